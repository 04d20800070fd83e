"""deepsets: learning on sets, starting with the DeepSets digit-sum lab."""

from deepsets.config import LabConfig
from deepsets.data import create_test_dataset, create_train_dataset
from deepsets.evaluate import evaluate, predict
from deepsets.lab import run_lab
from deepsets.models import GRU, LSTM, MODELS, DeepSets, SetTransformer, build_model
from deepsets.train import fit

__all__ = [
    "GRU", "LSTM", "MODELS", "DeepSets", "LabConfig", "SetTransformer", "build_model",
    "create_test_dataset", "create_train_dataset", "evaluate", "fit", "predict", "run_lab",
]
