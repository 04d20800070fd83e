"""Examples of extending deepsets; ``examples.sum_mlp:SumMLP`` is a plug-in model."""
