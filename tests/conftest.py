import os
import signal

import pytest
import torch
from hypothesis import settings

from deepsets.core import kernels
from deepsets.core.settings import LabConfig
from deepsets.lab.run import run_lab

# Tests press Ctrl-C (SIGINT) in the commands they start. A shell without job control
# starts `make test &` with SIGINT ignored, and every child would inherit that; a handler
# of our own is reset to the default in each child instead.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
