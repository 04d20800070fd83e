"""Sets of vectors: the continuous tasks' generators against closed forms, every built-in
model on vector sets (permutation and padding invariance), classification's loss, accuracy
and reach, and a plug-in that takes tokens only refused on a vector task."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepsets.core import vectors
from deepsets.core.data import VectorSets, create_test_dataset, create_train_dataset
from deepsets.core.evaluate import accuracy, predict, scores
from deepsets.core.models import SPECS, build_model
from deepsets.core.settings import CompareConfig, LabConfig
from deepsets.core.tasks import TASKS
from deepsets.core.train import fit
from deepsets.sweep.reach import run_reach

#: Models whose prediction does not depend on the order of the elements.
ORDERED = {"lstm", "gru", "lstm-unpadded", "gru-unpadded", "pyg-lstm", "pyg-gru", "pyg-sort",
           "pyg-patch-transformer", "pyg-lcm", "pyg-mlp"}


def models_here() -> list[str]:
    names = []
    for name, spec in SPECS.items():
        try:
            if spec.available is not None:
                spec.available()
        except ValueError:
            continue
        names.append(name)
    return names


def vector_model(name: str, dim: int = 3, outputs: int = 1) -> torch.nn.Module:
    torch.manual_seed(0)
    args = {"max_elements": 8} if name == "pyg-mlp" else {}
    model = build_model(name, input_dim=dim, embedding_dim=16, hidden_dim=8,
                        inputs="vectors", outputs=outputs, **args).double().eval()
    return model


@pytest.mark.parametrize("name", models_here())
def test_every_model_takes_vectors_invariantly(name):
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    model = vector_model(name)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (4,) and torch.isfinite(out).all()
        # padding invariance: empty positions anywhere, masked, change no prediction
        wide = torch.cat([torch.randn(4, 2, 3, dtype=torch.float64), x[:, :3],
                          torch.randn(4, 1, 3, dtype=torch.float64), x[:, 3:]], 1)
        mask = torch.tensor([0, 0, 1, 1, 1, 0, 1, 1, 1], dtype=torch.bool).expand(4, -1)
        torch.testing.assert_close(model(wide, mask), out, rtol=1e-6, atol=1e-7)
        if name not in ORDERED:
            perm = torch.randperm(6)
            torch.testing.assert_close(model(x[:, perm]), out, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["deepsets", "lstm", "set-transformer"])
def test_a_classifier_gives_a_logit_per_class(name):
    model = vector_model(name, outputs=8)
    assert model(torch.randn(5, 4, 3, dtype=torch.float64)).shape == (5, 8)


def test_reals_max_targets_are_the_max():
    (X,), (y,) = create_test_dataset(50, [7], task="reals-max", seed=3)
    assert X.shape == (50, 7, 1) and X.dtype == np.float32
    assert ((0 <= X) & (X <= 100)).all()
    np.testing.assert_array_equal(y, X[:, :, 0].astype(np.float64).max(axis=1))


def test_training_sets_are_left_padded_with_their_lengths():
    X, y = create_train_dataset(200, 4, task="gaussian-entropy", seed=0)
    assert isinstance(X, VectorSets) and X.values.shape == (200, 120, 2)
    assert set(X.lengths) <= {30, 60, 90, 120}
    for values, length in zip(X.values, X.lengths, strict=True):
        assert not values[:120 - length].any() and (values[120 - length:] != 0).all()


def test_gaussian_entropy_matches_its_closed_form_and_its_samples():
    rng = np.random.default_rng(0)
    X, y = vectors.gaussian_entropy(rng, 6, 20_000)
    # the entropy of N(0, s^2) is 1/2 log(2 pi e s^2): s^2 read off the samples
    sampled = 0.5 * np.log(2 * np.pi * np.e * X[:, :, 0].astype(np.float64).var(axis=1))
    np.testing.assert_allclose(sampled, y, atol=0.03)
    assert vectors.entropy_of_first(np.array([0.0]))[0] == pytest.approx(
        0.5 * np.log(2 * np.pi * np.e))
    assert vectors.entropy_of_first(np.array([np.pi / 2]))[0] == pytest.approx(
        0.5 * np.log(2 * np.pi * np.e / 4))


def test_gaussian_mi_matches_its_closed_form_and_its_samples():
    rng = np.random.default_rng(1)
    X, y = vectors.gaussian_mi(rng, 6, 20_000)
    x = X.astype(np.float64)
    # the halves' mutual information from the sample covariance: 1/2 log(|A| |B| / |S|)
    cov = np.stack([np.cov(s, rowvar=False) for s in x])
    logdet = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    sampled = 0.5 * (logdet(cov[:, :8, :8]) + logdet(cov[:, 8:, 8:]) - logdet(cov))
    np.testing.assert_allclose(sampled, y, atol=0.03)
    assert vectors.mutual_information(np.array([0.0]))[0] == 0.0


def test_point_cloud_shapes_are_what_they_say():
    rng = np.random.default_rng(2)
    p = {name: shape(rng, 3, 500) for name, shape in vectors.SHAPES.items()}
    np.testing.assert_allclose(np.linalg.norm(p["sphere"], axis=-1), 1)
    np.testing.assert_allclose(np.abs(p["cube"]).max(axis=-1), 1)
    np.testing.assert_allclose(np.hypot(p["cylinder"][..., 0], p["cylinder"][..., 1]), 1)
    radius = np.hypot(p["cone"][..., 0], p["cone"][..., 1])
    np.testing.assert_allclose(radius, (1 - p["cone"][..., 2]) / 2)
    ring = np.hypot(p["torus"][..., 0], p["torus"][..., 1]) - 1
    np.testing.assert_allclose(np.hypot(ring, p["torus"][..., 2]), 0.4)
    assert (p["disk"][..., 2] == 0).all() and (np.linalg.norm(p["disk"], axis=-1) <= 1).all()
    np.testing.assert_allclose(np.abs(p["octahedron"]).sum(-1), 1)
    np.testing.assert_allclose(np.hypot(p["helix"][..., 0], p["helix"][..., 1]), 1)
    rotations = vectors.rotations(rng, 10)
    np.testing.assert_allclose(rotations @ rotations.transpose(0, 2, 1),
                               np.tile(np.eye(3), (10, 1, 1)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rotations), 1)


def test_point_clouds_are_rotated_scaled_noisy_shapes():
    X, labels = vectors.point_clouds(np.random.default_rng(3), 400, 300)
    assert X.shape == (400, 300, 3) and set(labels) == set(range(len(vectors.SHAPES)))
    spheres = X[labels == list(vectors.SHAPES).index("sphere")].astype(np.float64)
    norms = np.linalg.norm(spheres, axis=-1)  # the scale, plus noise
    assert ((0.45 < norms.mean(1)) & (norms.mean(1) < 1.55)).all()
    assert (norms.std(1) < 2 * vectors.NOISE).all()


class KnownShape(torch.nn.Module):
    """A hand-built classifier that is right: it reads the class off the first element."""

    takes = ("vectors",)

    def forward(self, x, mask=None):
        return F.one_hot(x[:, 0, 0].long(), 8).double() * 10


def test_classification_scores_and_reach_of_a_model_known_to_be_right():
    labels = np.arange(16) % 8
    X = np.repeat(labels[:, None, None], 5, axis=1).astype(np.float32)
    logits = predict(KnownShape(), X)
    assert logits.shape == (16, 8)
    assert accuracy(labels, logits) == 1.0 and scores(labels, logits) == {"acc": 1.0}
    assert accuracy(labels, np.roll(logits, 1, axis=0)) == 0.0
    loss = F.cross_entropy(torch.as_tensor(logits), torch.as_tensor(labels))
    assert loss.item() == pytest.approx(np.log(1 + 7 * np.exp(-10)))
    rows = [{"card": c, "acc": a, "mae": None} for c, a in ((10, 1.0), (20, 0.95), (40, 0.5))]
    assert run_reach("point-clouds", rows, {}) == 20


def test_a_plugin_of_tokens_is_refused_on_vectors_in_one_line():
    with pytest.raises(ValueError) as err:
        LabConfig(task="point-clouds", models=("tests.plugins:DigitsOnly",))
    assert "takes tokens, images and mnist only, not vectors" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="cannot learn task 'reals-max'"):
        CompareConfig(tasks=("sum", "reals-max"), models=("tests.plugins:DigitsOnly",))


def test_vector_tasks_train_in_batches_of_one_size_and_count_elements():
    config = LabConfig(task="gaussian-mi", cards=(1, 2), max_card=3)
    assert config.padding("lstm") == "none" and config.sizes == (30, 60)
    assert config.max_size == 90 and config.model_args("deepsets")["input_dim"] == 16
    assert LabConfig(task="point-clouds").model_args("gru")["outputs"] == 8
    assert not LabConfig(task="reals-max", recipe="exact").recipe_for("deepsets").refit
    assert TASKS["point-clouds"].loss == "cross-entropy"


@pytest.mark.parametrize("name", ["deepsets", "set-transformer"])
def test_vector_models_standardize_so_units_do_not_matter(name):
    """Elements and targets are standardized by the training sets (their real positions
    only): the same data in units a thousand times smaller trains to the same model,
    whose predictions are a thousand times larger."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 6, size=128)
    X = rng.uniform(0, 1, size=(128, 5, 1)).astype(np.float32)
    X[np.arange(5) < 5 - lengths[:, None]] = 0  # left padding, as VectorSets
    y = X.max(axis=(1, 2)).astype(np.float64)
    models = []
    for unit in (1.0, 1000.0):
        torch.manual_seed(0)
        model = build_model(name, input_dim=1, embedding_dim=16, hidden_dim=8,
                            inputs="vectors")
        fit(model, X * unit, y * unit, name=name, epochs=1, batch_size=16, lengths=lengths)
        models.append(model)
    real = np.arange(5) >= 5 - lengths[:, None]
    assert models[1].embedding.loc.item() == pytest.approx(1000 * X[real].mean(), rel=1e-5)
    assert models[1].embedding.scale.item() == pytest.approx(1000 * X[real].std(ddof=1),
                                                             rel=1e-4)
    assert models[1].target_loc.item() == pytest.approx(1000 * y.mean(), rel=1e-6)
    test = rng.uniform(0, 1, size=(32, 7, 1)).astype(np.float32)
    small, large = predict(models[0], test), predict(models[1], test * 1000)
    np.testing.assert_allclose(large, 1000 * small, rtol=1e-3)
    assert not np.allclose(small, small.mean())  # it learned something set by set
