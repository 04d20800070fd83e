"""deepsets: learning on sets, starting with the DeepSets digit-sum lab."""

from deepsets.core.data import create_test_dataset, create_train_dataset
from deepsets.core.evaluate import evaluate, predict
from deepsets.core.models import GRU, LSTM, MODELS, DeepSets, SetTransformer, build_model
from deepsets.core.settings import LabConfig
from deepsets.core.train import fit
from deepsets.lab.run import run_lab

__all__ = [
    "GRU", "LSTM", "MODELS", "DeepSets", "LabConfig", "SetTransformer", "build_model",
    "create_test_dataset", "create_train_dataset", "evaluate", "fit", "predict", "run_lab",
]
