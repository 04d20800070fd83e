"""The compiled kernels: the LSTM step used when built, and a clean fallback when not.

Its values and gradients are checked against ``nn.LSTM`` in test_models.py
(``test_lstm_training_step_matches_nn_lstm_at_the_handouts_sizes``).
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from deepsets import LSTM, create_train_dataset, fit
from deepsets.core import kernels

needs_compiled = pytest.mark.skipif(kernels.load() is None, reason=kernels.status())


@needs_compiled
def test_training_goes_through_the_compiled_step_and_evaluation_does_not(monkeypatch):
    calls = []
    original = kernels.LSTMPrediction.apply
    monkeypatch.setattr(kernels.LSTMPrediction, "apply",
                        lambda *args: calls.append(tuple(args[0].shape)) or original(*args))
    X, y = create_train_dataset(n_train=256, seed=0)
    model = LSTM(embedding_dim=16, hidden_dim=8)
    fit(model, X, y, name="lstm", epochs=1)
    assert calls == [(64, 10)] * 4  # every batch of the epoch
    with torch.inference_mode():
        model(torch.as_tensor(X[:8]))
    assert len(calls) == 4


@needs_compiled
def test_tokens_outside_the_vocabulary_are_refused_not_read():
    model = LSTM(embedding_dim=8, hidden_dim=4)
    x = torch.full((2, 3), 11)  # the vocabulary is 0..10
    with pytest.raises(RuntimeError, match="tokens must lie in 0..10, got 11"):
        kernels.lstm_prediction(model, x)


@needs_compiled
def test_status_names_the_path_in_one_line():
    line = kernels.status()
    assert line.startswith("deepsets training kernels: compiled") and "\n" not in line


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


TRAIN_ONE_EPOCH = """
from deepsets import LSTM, create_train_dataset, fit
from deepsets.core import kernels
X, y = create_train_dataset(n_train=128, seed=0)
history = fit(LSTM(embedding_dim=8, hidden_dim=4), X, y, name="lstm", epochs=1)
print(kernels.status())
print("loss", history[0]["loss"])
"""


def test_without_a_compiler_the_lstm_trains_through_pytorchs_kernel(tmp_path):
    # an empty cache and no compiler: the build fails, training goes on, one line says so
    done = run_python(TRAIN_ONE_EPOCH, CXX=str(tmp_path / "no-such-compiler"),
                      XDG_CACHE_HOME=str(tmp_path))
    assert done.returncode == 0, done.stderr
    status, loss = done.stdout.splitlines()
    assert status.startswith("deepsets training kernels: PyTorch's kernels (the compiled ones "
                             "did not build")
    assert np.isfinite(float(loss.split()[1]))
    warnings = [line for line in done.stderr.splitlines() if "training goes through" in line]
    assert len(warnings) == 1


def test_the_switch_turns_the_compiled_step_off():
    done = run_python(TRAIN_ONE_EPOCH, DEEPSETS_KERNELS="off")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == ("deepsets training kernels: PyTorch's kernels "
                                           "(DEEPSETS_KERNELS=off)")
