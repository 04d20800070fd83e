import os

import pytest
import torch
from hypothesis import settings

from deepsets import kernels
from deepsets.config import LabConfig
from deepsets.lab import run_lab


def pytest_report_header(config):
    # which path the LSTM trains through here: CI's log shows whether the step compiled
    return kernels.status()


@pytest.fixture(autouse=True)
def _single_thread_torch():
    # tests compare numbers, not speed; one thread keeps them quick and stable on 2 cores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = LabConfig(n_train=2_000, n_per_card=100, epochs=2, cards=(5, 10, 20),
                 embedding_dim=16, hidden_dim=8)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One small lab run folder shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("tiny") / "run"
    return run_lab(TINY, out)


# CI replays the same generated cases every run (a failure there is reproducible);
# locally every run draws new ones
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
