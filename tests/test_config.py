import pytest

from deepsets.core.checks import derive_seed
from deepsets.core.settings import HANDOUT_CARDS, LabConfig


def test_defaults_are_the_handouts():
    c = LabConfig()
    assert (c.n_train, c.max_card, c.max_digit, c.n_per_card) == (100_000, 10, 10, 10_000)
    assert c.cards == HANDOUT_CARDS == tuple(range(5, 101, 5))
    assert (c.epochs, c.batch_size, c.lr, c.embedding_dim, c.hidden_dim) == (20, 64, 1e-3, 128, 64)
    assert c.models == ("deepsets", "lstm")


@pytest.mark.parametrize("field, value, message", [
    ("epochs", 0, "epochs=0 is not allowed"),
    ("batch_size", -1, "batch_size=-1"),
    ("n_train", 1.5, "n_train=1.5"),
    ("hidden_dim", True, "hidden_dim=True"),
    ("seed", -3, "seed=-3"),
    ("lr", float("nan"), "lr=nan"),
    ("lr", 0, "lr=0"),
    ("cards", (), "cards is empty"),
    ("cards", (5, 5), "repeats a size"),
    ("cards", (5, -5), "cards=-5"),
    ("models", ("deepsets", "rnn"), "unknown model 'rnn'"),
    ("device", "tpu", "device='tpu'"),
])
def test_invalid_values_name_field_and_value(field, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        LabConfig(**{field: value})


def test_round_trip_through_dict():
    c = LabConfig(seed=3, cards=(5, 1000))
    assert LabConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="unknown settings"):
        LabConfig.from_dict({**c.to_dict(), "colour": "red"})


def test_same_results_ignores_device_only():
    a = LabConfig()
    assert a.same_results_as(LabConfig(device="auto"))
    assert not a.same_results_as(LabConfig(seed=1))


def test_derive_seed_is_stable_and_separates_purposes():
    assert derive_seed(0, "lstm", "init") == derive_seed(0, "lstm", "init")
    seeds = {derive_seed(s, k) for s in range(3) for k in ("a", "b", "c")}
    assert len(seeds) == 9 and all(0 <= s < 2**63 for s in seeds)


def test_each_recipe_changes_only_deepsets_and_what_it_names():
    from deepsets.core.settings import LabConfig

    for recipe, schedule, padding in (("handout", "constant", "left"),
                                      ("pads", "constant", "free"),
                                      ("cosine", "cosine", "left"),
                                      ("padded", "cosine", "free")):
        config = LabConfig(recipe=recipe)
        assert (config.schedule("deepsets"), config.padding("deepsets")) == (schedule, padding)
        assert (config.schedule("lstm"), config.padding("lstm")) == ("constant", "left")
        switches = config.recipe_for("deepsets")
        assert not switches.mask_padding and not switches.refit
        assert config.padding("lstm-unpadded") == "none"
    exact = LabConfig(recipe="exact")
    assert exact.recipe_for("deepsets").refit and exact.recipe_for("deepsets").mask_padding
    assert exact.model_args("deepsets")["mask_padding"] is True
    assert not exact.recipe_for("lstm").refit and "mask_padding" not in exact.model_args("lstm")
    on_images = LabConfig(recipe="exact", task="images").recipe_for("deepsets")
    assert on_images.mask_padding and not on_images.refit  # the refit skips images
    assert not LabConfig(recipe="refit", task="images").recipe_for("deepsets").refit


def test_no_code_outside_the_recipe_table_compares_a_recipe_name():
    import re
    from pathlib import Path

    import deepsets

    compares = re.compile(r"recipe\s*(==|!=|not in|in)\s*[(\"']")
    for path in Path(deepsets.__file__).parent.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not compares.search(line), f"{path.name}:{number}: {line.strip()}"
