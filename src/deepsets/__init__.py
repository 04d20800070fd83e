"""deepsets: learning on sets, starting with the DeepSets digit-sum lab.

The benchmark from Python (``deepsets.api``): ``compare`` sweeps tasks x models x seeds,
``lab`` runs the handout's lab, ``load`` reads back a folder either wrote; each returns
its tables as pandas DataFrames. The handout's tasks are functions and classes of their
own: ``create_train_dataset``, ``DeepSets``, ``fit``, ``evaluate``, ...
"""

from deepsets.core.data import create_test_dataset, create_train_dataset
from deepsets.core.evaluate import evaluate, predict
from deepsets.core.models import GRU, LSTM, MODELS, DeepSets, SetTransformer, build_model
from deepsets.core.settings import LabConfig
from deepsets.core.train import fit
from deepsets.lab.run import run_lab

# isort: split
# After the lab's modules: the function ``lab`` is what ``deepsets.lab`` names, and the
# package of its modules stays importable by path (``from deepsets.lab.run import ...``).
from deepsets.api import Run, Sweep, compare, lab, load

__all__ = [
    "GRU", "LSTM", "MODELS", "DeepSets", "LabConfig", "Run", "SetTransformer", "Sweep",
    "build_model", "compare", "create_test_dataset", "create_train_dataset", "evaluate",
    "fit", "lab", "load", "predict", "run_lab",
]
