"""The set-learning core: data and tasks, models, training, evaluation, the compiled
kernels, the run folder and the executor. It imports nothing from ``lab`` or ``sweep``."""
