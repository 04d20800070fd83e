import numpy as np
import pytest
import torch

from deepsets import LSTM, DeepSets, create_train_dataset, fit
from deepsets.core.progress import Outbox, Progress
from deepsets.core.runfolder import CheckpointError, load_checkpoint, load_model, save_checkpoint
from deepsets.core.train import TrainingDiverged, epoch_order, init_model

SMALL = {"input_dim": 11, "embedding_dim": 16, "hidden_dim": 8}


@pytest.fixture(scope="module")
def data():
    return create_train_dataset(n_train=3_000, seed=0)


def test_fit_learns_the_sum(data):
    X, y = data
    model = init_model(DeepSets, 0, "deepsets", **SMALL)
    history = fit(model, X, y, name="deepsets", epochs=4, batch_size=64, lr=1e-2, seed=0)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    # predicting the mean sum would leave an L1 loss of about 15
    assert history[-1]["loss"] < history[0]["loss"] / 4
    assert history[-1]["loss"] < 4.0


@pytest.mark.parametrize("cls", [DeepSets, LSTM])
def test_one_training_step_is_adam_on_the_l1_loss_of_the_plain_model(cls, data):
    """fit's step against a step written out on the plain oracle model."""
    from oracle import handout_names, oracle_for

    X, y = data
    model = init_model(cls, 0, "m", **SMALL)
    plain = oracle_for(model)
    fit(model, X[:64], y[:64], name="m", epochs=1, batch_size=64, lr=1e-2, seed=0)
    order = epoch_order(64, 0, "m", 0)
    opt = torch.optim.Adam(plain.parameters(), lr=1e-2)
    loss = torch.nn.functional.l1_loss(plain(torch.as_tensor(X[:64])[order]),
                                       torch.as_tensor(y[:64], dtype=torch.float32)[order])
    loss.backward()
    opt.step()
    stepped = dict(plain.named_parameters())
    for name, param in handout_names(dict(model.named_parameters())).items():
        torch.testing.assert_close(param, stepped[name], rtol=1e-5, atol=1e-6, msg=name)
    initial = handout_names(init_model(cls, 0, "m", **SMALL).state_dict())
    assert not torch.equal(param, initial[name])


def test_same_seed_same_weights(data):
    X, y = data
    a = init_model(DeepSets, 0, "deepsets", **SMALL)
    b = init_model(DeepSets, 0, "deepsets", **SMALL)
    fit(a, X, y, name="deepsets", epochs=1, seed=0)
    fit(b, X, y, name="deepsets", epochs=1, seed=0)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_epoch_order_reshuffles_every_epoch():
    first, second = epoch_order(100, 0, "m", 0), epoch_order(100, 0, "m", 1)
    assert sorted(first.tolist()) == list(range(100))
    assert not torch.equal(first, second)
    assert torch.equal(first, epoch_order(100, 0, "m", 0))


def test_checkpoint_round_trip_and_resume(data, tmp_path):
    X, y = data
    ckpt = tmp_path / "lstm.pt"
    # three epochs straight
    straight = init_model(LSTM, 0, "lstm", **SMALL)
    fit(straight, X, y, name="lstm", epochs=3, seed=0)
    # two epochs, checkpoint, then a fresh process-like restart for the third
    cut = init_model(LSTM, 0, "lstm", **SMALL)
    fit(cut, X, y, name="lstm", epochs=2, seed=0, checkpoint=ckpt)
    assert load_checkpoint(ckpt, "lstm")["epoch"] == 2
    resumed = init_model(LSTM, 0, "lstm", **SMALL)
    history = fit(resumed, X, y, name="lstm", epochs=3, seed=0, checkpoint=ckpt)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    # the saved model predicts exactly what the trained one does
    loaded, state = load_model(ckpt, "lstm", SMALL)
    assert state["epoch"] == 3
    assert state["model_args"] == {**SMALL, "inputs": "tokens", "outputs": 1}
    assert set(state) == {"model", "model_name", "model_args", "optimizer", "epoch", "history"}
    x = torch.as_tensor(X[:32])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), resumed.eval()(x), rtol=0, atol=0)


def test_divergence_names_model_epoch_and_step(data, tmp_path):
    X, y = data
    y = y.astype(np.float64)
    y[100:] = np.nan  # the targets turn bad: the loss becomes NaN
    model = init_model(DeepSets, 0, "deepsets", **SMALL)
    with pytest.raises(TrainingDiverged, match=r"deepsets: the loss became nan at epoch 1, "
                                               r"step \d+"):
        fit(model, X, y, name="deepsets", epochs=1, seed=0, checkpoint=tmp_path / "d.pt")
    assert not (tmp_path / "d.pt").exists()  # no epoch completed, nothing half-written


class Recorder(Progress):
    def __init__(self):
        self.events = []

    def start(self, key, desc, total, unit):
        self.events.append(("start", key, desc, total, unit))

    def advance(self, key, n=1, loss=None):
        self.events.append(("advance", key, n, loss))

    def write(self, key, text):
        self.events.append(("write", key, text))

    def end(self, key):
        self.events.append(("end", key))


def test_progress_reports_every_step(data):
    X, y = data
    rec = Recorder()
    fit(init_model(DeepSets, 0, "deepsets", **SMALL), X[:640], y[:640], name="deepsets",
        epochs=2, batch_size=64, seed=0, progress=rec)
    assert rec.events[0] == ("start", "deepsets", "training deepsets", 20, "batch")
    steps = [e for e in rec.events if e[0] == "advance"]
    assert len(steps) == 20 and all(e[3] > 0 for e in steps)
    news = [e[2] for e in rec.events if e[0] == "write"]
    assert len(news) == 2 and news[1].startswith("deepsets epoch 2/2: loss ")
    assert rec.events[-1] == ("end", "deepsets")


def test_queue_progress_bunches_steps_and_replays():
    import queue

    from deepsets.core.progress import QueueProgress, replay

    q = queue.Queue()
    sender = QueueProgress(q, every=3600)  # flush only at news or the end
    sender.start("m", "training m", 3, "batch")
    for loss in (1.0, 2.0, 3.0):
        sender.advance("m", loss=loss)
    sender.write("m", "epoch 1")
    sender.end("m")
    rec = Recorder()
    while not q.empty():
        tag, event = q.get()
        assert tag is None
        replay(event, rec)
    assert rec.events == [("start", "m", "training m", 3, "batch"), ("advance", "m", 3, 2.0),
                          ("write", "m", "epoch 1"), ("end", "m")]


def test_load_model_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_model(tmp_path / "missing.pt")
    model = DeepSets(**SMALL)
    save_checkpoint(tmp_path / "ds.pt", model, "deepsets")
    with pytest.raises(CheckpointError, match="holds a 'deepsets' model, not 'lstm'"):
        load_model(tmp_path / "ds.pt", "lstm")
    with pytest.raises(CheckpointError, match="holds a model with"):
        load_model(tmp_path / "ds.pt", "deepsets", {**SMALL, "hidden_dim": 9})
    # a checkpoint whose stored arguments do not fit its weights
    state = torch.load(tmp_path / "ds.pt", weights_only=True)
    state["model_args"]["hidden_dim"] = 9
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(tmp_path / "bad.pt")
    # truncated and not-a-checkpoint files
    data = (tmp_path / "ds.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_model(tmp_path / "cut.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a deepsets checkpoint"):
        load_model(tmp_path / "other.pt")


class Payload:
    """Unpickling this object would create a file: a safe load must refuse it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_payload_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"model": Payload(str(marker)), "model_name": "deepsets", "model_args": SMALL},
               tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refused"):
        load_model(tmp_path / "evil.pt")
    assert not marker.exists()


class BatchRecorder(torch.nn.Module):
    """A model that predicts 0 through one weight and records every batch it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.batches: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(x.clone())
        return self.w * x.shape[1] * torch.ones(len(x))


def test_batches_of_one_length_show_each_set_its_own_tokens():
    from deepsets.core.data import free_padding

    X, y = create_train_dataset(n_train=500, seed=3)
    wide, lengths = free_padding(X, 10, np.random.default_rng(1))
    model = BatchRecorder()
    fit(model, wide, y, name="m", epochs=1, batch_size=16, seed=0, lengths=lengths)
    seen = sorted(tuple(row) for batch in model.batches for row in batch.tolist())
    own = [tuple(row[20 - n:]) for row, n in zip(wide.tolist(), lengths, strict=True)]
    assert seen == sorted(own)
    assert max(len(batch) for batch in model.batches) == 16
    assert len({batch.shape[1] for batch in model.batches}) == len(np.unique(lengths)) > 10


def test_epoch_batches_cover_every_set_once_in_a_new_order_each_epoch():
    from deepsets.core.train import epoch_batches

    lengths = torch.as_tensor(np.random.default_rng(0).integers(1, 6, size=300))
    first = epoch_batches(300, 8, 0, "m", 0, lengths)
    assert sorted(torch.cat(first).tolist()) == list(range(300))
    assert all(len(set(lengths[b].tolist())) == 1 and len(b) <= 8 for b in first)
    # sets of one length share batches: at most one short batch per length
    assert sum(len(b) < 8 for b in first) <= 5
    again, other = epoch_batches(300, 8, 0, "m", 0, lengths), epoch_batches(300, 8, 0, "m", 1,
                                                                            lengths)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert [b.tolist() for b in first] != [b.tolist() for b in other]


def test_cosine_schedule_decays_the_rate_to_zero_and_resumes_exactly(data, tmp_path):
    from deepsets.core.train import SCHEDULES

    rates = [SCHEDULES["cosine"](t, 10) for t in range(10)]
    assert rates[0] == 1.0 and rates == sorted(rates, reverse=True) and rates[-1] < 0.03
    X, y = data
    straight = init_model(DeepSets, 0, "deepsets", **SMALL)
    fit(straight, X, y, name="deepsets", epochs=2, seed=0, schedule="cosine")
    constant = init_model(DeepSets, 0, "deepsets", **SMALL)
    fit(constant, X, y, name="deepsets", epochs=2, seed=0)
    assert not torch.equal(straight.rho.weight, constant.rho.weight)
    ckpt = tmp_path / "deepsets.pt"

    class StopAfterFirstSave(Outbox):
        def saved(self, path):
            raise KeyboardInterrupt

    cut = init_model(DeepSets, 0, "deepsets", **SMALL)
    with pytest.raises(KeyboardInterrupt, match="after 1 of 2 epochs"):
        fit(cut, X, y, name="deepsets", epochs=2, seed=0, schedule="cosine", checkpoint=ckpt,
            outbox=StopAfterFirstSave())
    resumed = init_model(DeepSets, 0, "deepsets", **SMALL)
    fit(resumed, X, y, name="deepsets", epochs=2, seed=0, schedule="cosine", checkpoint=ckpt)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


def test_fit_refuses_a_bad_schedule_or_bad_lengths(data):
    X, y = data
    model = init_model(DeepSets, 0, "deepsets", **SMALL)
    with pytest.raises(ValueError, match="^schedule='linear' is not allowed; use constant or"):
        fit(model, X, y, name="deepsets", schedule="linear")
    with pytest.raises(ValueError, match="^lengths must be 3000 set lengths in 1..10"):
        fit(model, X, y, name="deepsets", lengths=np.full(len(X), 11))


class Flushes(torch.nn.Module):
    """A sum model that records, at each training step, whether a denormal float (1e-39)
    reaches its arithmetic as itself or as zero."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(11, 4)
        self.out = torch.nn.Linear(4, 1)
        self.seen: list[float] = []

    def forward(self, x):
        self.seen.append((torch.tensor([1e-39]) * 1.0).item())
        return self.out(self.embedding(x).sum(dim=1)).squeeze(-1)


def test_training_flushes_denormals_to_zero_and_restores_them_after(data):
    from deepsets.core.devices import flushed_denormals

    tiny = torch.tensor([1e-39])  # below float32's smallest normal, 1.2e-38
    assert (tiny * 1.0).item() > 0
    with flushed_denormals():
        assert (tiny * 1.0).item() == 0
    assert (tiny * 1.0).item() > 0
    model = Flushes()
    X, y = data
    fit(model, X[:256], y[:256], name="flushes", epochs=1, batch_size=64)
    assert model.seen == [0.0] * 4  # every step, as the LSTM's long backward passes need
    assert (tiny * 1.0).item() > 0  # and back after training
