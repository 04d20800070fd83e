"""End to end: the lab on a small configuration, and every file of the run folder."""

import csv
import json
import os

import numpy as np
import pytest
import torch
from conftest import TINY

from deepsets.core.runfolder import OUTPUTS, load_checkpoint, load_trained, prepare_run, read_config
from deepsets.core.settings import LabConfig
from deepsets.lab.run import run_lab


def test_run_folder_holds_every_file(tiny_run):
    run = tiny_run.run
    for name in (*OUTPUTS, "deepsets.pt", "lstm.pt"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    assert not list(run.glob(".*tmp"))  # no temporary files left behind


def test_config_json(tiny_run):
    stored = json.loads((tiny_run.run / "config.json").read_text())
    assert stored["config"]["seed"] == 0 and stored["config"]["epochs"] == 2
    assert stored["versions"]["torch"] == torch.__version__
    assert read_config(tiny_run.run) == TINY


def test_checkpoints(tiny_run):
    for name, args in [("deepsets", 16), ("lstm", 16)]:
        state = load_checkpoint(tiny_run.run / f"{name}.pt", name)
        assert state["epoch"] == 2 and state["model_args"]["embedding_dim"] == args
        assert set(state) == {"model", "model_name", "model_args", "optimizer", "epoch",
                              "history"}


def test_results_json_and_csv_agree(tiny_run):
    results = json.loads((tiny_run.run / "results.json").read_text())
    assert results["cards"] == [5, 10, 20]
    assert set(results) == {"cards", "deepsets", "lstm"}
    with open(tiny_run.run / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    for row in rows:
        i = results["cards"].index(int(row["card"]))
        assert float(row["acc"]) == results[row["model"]]["acc"][i]
        assert float(row["mae"]) == results[row["model"]]["mae"][i]
        assert 0 <= float(row["acc"]) <= 1 and float(row["mae"]) >= 0


def test_history(tiny_run):
    history = json.loads((tiny_run.run / "history.json").read_text())
    assert [e["epoch"] for e in history["deepsets"]] == [1, 2]
    assert all(np.isfinite(e["loss"]) for e in history["lstm"])


def test_figures_are_png(tiny_run):
    for name in ("accuracy.png", "mae.png"):
        assert (tiny_run.run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report(tiny_run):
    text = (tiny_run.run / "report.md").read_text()
    assert "![accuracy by set size](accuracy.png)" in text
    assert "| 20 |" in text and "DeepSets acc" in text
    dacc = tiny_run.results["deepsets"]["acc"][0]
    assert f"{dacc:.4f}" in text


def test_rerun_same_settings_is_identical_and_skips_training(tiny_run, tmp_path):
    before = (tiny_run.run / "results.json").read_bytes()
    mtime = (tiny_run.run / "lstm.pt").stat().st_mtime_ns
    again = run_lab(TINY, tiny_run.run)
    assert (tiny_run.run / "results.json").read_bytes() == before
    assert (tiny_run.run / "lstm.pt").stat().st_mtime_ns == mtime  # not retrained
    assert again.results == tiny_run.results


def test_same_seed_new_folder_identical_results(tiny_run, tmp_path):
    run_lab(TINY, tmp_path / "b")
    assert (tmp_path / "b" / "results.json").read_bytes() == \
        (tiny_run.run / "results.json").read_bytes()


def test_other_settings_are_refused_without_force(tiny_run, tmp_path):
    run = tmp_path / "r"
    prepare_run(run, TINY)
    with pytest.raises(ValueError, match=r"other settings \(--epochs 2 -> 3\); use --resume "
                                         r"to continue it, --force"):
        prepare_run(run, LabConfig(**{**TINY.to_dict(), "epochs": 3}))
    other = LabConfig(**{**TINY.to_dict(), "epochs": 3, "seed": 5, "cards": [5, 10]})
    with pytest.raises(ValueError, match=r"\(--seed 0 -> 5, --cards 5,10,20 -> 5,10, --epochs "
                                         r"2 -> 3\); repeat the flags it was started with"):
        prepare_run(run, other, resume=True)
    assert read_config(run).epochs == 2  # nothing lost
    assert prepare_run(run, LabConfig(**{**TINY.to_dict(), "device": "auto"}),
                       resume=True).device == "auto"  # the device may change
    assert prepare_run(run, LabConfig(**{**TINY.to_dict(), "epochs": 3}), force=True).epochs == 3


def test_force_starts_over(tmp_path):
    run = tmp_path / "r"
    prepare_run(run, TINY)
    (run / "deepsets.pt").write_bytes(b"old")
    (run / "notes.txt").write_text("mine")
    prepare_run(run, TINY, force=True)
    assert not (run / "deepsets.pt").exists()  # the lab's files go
    assert (run / "notes.txt").read_text() == "mine"  # nothing else is touched


def test_resume_without_a_run_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="nothing to resume"):
        prepare_run(tmp_path, None, resume=True)


@pytest.mark.parametrize("task", ["sum", "images"])
def test_chunked_test_sets_equal_one_call_for_all_sizes(task):
    from deepsets.core.data import chunked_test_sets, create_test_dataset, element_pool

    pool = element_pool(task, "test")
    X_whole, y_whole = create_test_dataset(50, (5, 30), seed=np.random.default_rng(7),
                                           task=task, pool=pool)
    rng = np.random.default_rng(7)
    for card, X, y in zip((5, 30), X_whole, y_whole, strict=True):
        chunks = list(chunked_test_sets(card, 50, 10, rng, task=task, pool=pool,
                                        max_tokens=7 * card))  # 7 sets a chunk
        assert [len(c[0]) for c in chunks] == [7] * 7 + [1]
        np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), X)
        np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), y)


def test_report_answers_the_questions(tiny_run):
    text = (tiny_run.run / "report.md").read_text()
    for heading in ("## Question 1", "## Question 2", "## Why DeepSets drifts",
                    "## How far does DeepSets stay exact?"):
        assert heading in text
    analysis = json.loads((tiny_run.run / "analysis.json").read_text())
    q1 = analysis["question1"]
    assert q1["cards"] == [5, 10, 20, 1_000, 10_000]  # the run's test sizes, then beyond
    assert q1["canonical"]["acc"] == [1.0] * 5
    drift = analysis["drift"]
    assert drift["cards"] == [5, 10, 20] and len(drift["a"]) == 11
    assert drift["measured"]["mae"] == tiny_run.results["deepsets"]["mae"]


def test_a_lab_of_12_digits_runs_and_reports_its_own_digits_and_sizes(tmp_path, capsys):
    from helpers import run_cli

    run = tmp_path / "digits12"
    config = LabConfig(**{**TINY.to_dict(), "max_digit": 12, "max_card": 8, "n_train": 500,
                          "epochs": 1, "n_per_card": 50, "cards": (5, 20), "hidden_dim": 16})
    prepare_run(run, config)  # settings no flag sets; the command line runs the stored ones
    code, out, err = run_cli(capsys, "lab", "--resume", "--out", str(run))
    assert code == 0, err
    text = (run / "report.md").read_text()
    for said in ("500 sets of 1-8 digits (from 1..12",  # the training sets
                 "linear in 14 numbers a_0..a_12 and b2",  # question 1
                 "training sets of 1..8 digits from 1..12",
                 "50 test sets at each size 5, 20 and 1,000 sets each of 1,000, 10,000",
                 "Every training set holds 8 tokens", "off by `(N - 8) s`",
                 "| 12 |",  # the drift's table of contributions, a row per digit
                 "these 13 numbers alone (a_1..a_12 and b2",
                 "with 16 hidden units for 13 tokens", "carries 0..8 pad tokens",
                 "sequences of exactly 8 tokens", "shorter than 8"):
        assert said in text, said
    for stale in ("a_0..a_10", "1..10 digits", "11 tokens", "11 numbers", "10 tokens"):
        assert stale not in text, stale
    analysis = json.loads((run / "analysis.json").read_text())
    assert analysis["question1"]["canonical"]["a"] == pytest.approx(range(13), abs=1e-5)
    assert analysis["question1"]["pad_shift"]["b2"] == pytest.approx(-0.08)
    assert len(analysis["drift"]["a"]) == 13
    assert analysis["lstm_padding"]["sizes"] == list(range(1, 9))


def test_exact_recipe(tmp_path):
    # 16 hidden units: enough for a_1..a_10 and b2 to be solved exactly
    config = LabConfig(**{**TINY.to_dict(), "models": ["deepsets"], "recipe": "exact",
                          "hidden_dim": 16, "cards": [5, 100, 2000], "n_per_card": 50})
    done = run_lab(config, tmp_path / "exact")
    state = load_checkpoint(tmp_path / "exact" / "deepsets.pt", "deepsets")
    assert state["model_args"]["mask_padding"] is True
    assert state["refit"]["train_mae_after"] < 1e-6
    assert done.results["deepsets"]["acc"] == [1.0, 1.0, 1.0]  # even after 2 tiny epochs
    assert "recipe: exact" in (tmp_path / "exact" / "report.md").read_text()
    # rerunning does not refit again
    mtime = (tmp_path / "exact" / "deepsets.pt").stat().st_mtime_ns
    run_lab(config, tmp_path / "exact")
    assert (tmp_path / "exact" / "deepsets.pt").stat().st_mtime_ns == mtime


def test_padded_recipe_trains_the_handout_model_on_freely_padded_sets(tmp_path):
    config = LabConfig(**{**TINY.to_dict(), "models": ["deepsets"], "recipe": "padded",
                          "cards": [5, 100], "n_per_card": 50})
    done = run_lab(config, tmp_path / "padded")
    state = load_checkpoint(tmp_path / "padded" / "deepsets.pt", "deepsets")
    assert state["model_args"]["mask_padding"] is False and "refit" not in state
    assert len(done.results["deepsets"]["acc"]) == 2
    text = (tmp_path / "padded" / "report.md").read_text()
    assert "recipe: padded" in text and "carried 0..10 pad tokens whatever its size" in text
    reach = json.loads((tmp_path / "padded" / "analysis.json").read_text())["reach"]
    assert reach["check"]["cards"] == [100_000, 1_000_000] and reach["check"]["sets"] == 100
    assert 0 <= reach["float32"] <= reach["learned"]
    for key in ("measured_float32", "measured_float64", "predicted_float32"):
        assert 0 <= reach["check"][key][0] <= 1
    assert f"**{reach['float32']:,} digits**" in text


def test_side_by_side_training_gives_the_same_numbers(tmp_path):
    from deepsets.core.pipeline import default_jobs, train_models

    assert default_jobs(TINY) == min(2, os.cpu_count() or 1)  # side by side, in threads
    runs = {}
    for jobs in (1, 2):
        runs[jobs] = tmp_path / f"jobs{jobs}"
        prepare_run(runs[jobs], TINY)
        history = train_models(runs[jobs], TINY, jobs=jobs)
        assert list(history) == ["deepsets", "lstm"]
    for name in ("deepsets", "lstm"):
        a = torch.load(runs[1] / f"{name}.pt", weights_only=True)["model"]
        b = torch.load(runs[2] / f"{name}.pt", weights_only=True)["model"]
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_plug_in_models_train_one_after_another():
    from deepsets.core.pipeline import default_jobs

    config = LabConfig(**{**TINY.to_dict(), "models": ("deepsets", "examples.sum_mlp:SumMLP")})
    assert default_jobs(config) == 1


def test_worker_failure_reaches_the_parent(tmp_path):
    from deepsets.core.pipeline import train_models
    from deepsets.core.train import TrainingDiverged

    config = LabConfig(**{**TINY.to_dict(), "lr": 1e36})  # weights of 1e36: the outputs overflow
    prepare_run(tmp_path / "r", config)
    with pytest.raises(TrainingDiverged, match="the loss became"):
        train_models(tmp_path / "r", config, jobs=2)


def test_each_model_sees_its_own_padding():
    from deepsets.core.data import set_sizes
    from deepsets.core.pipeline import laid_out, train_sets

    X, _ = train_sets(TINY)
    config = LabConfig(**{**TINY.to_dict(), "recipe": "padded"})
    assert laid_out(TINY, "deepsets", X) == (X, None)
    assert laid_out(config, "lstm", X) == (X, None)  # the recipe is DeepSets' alone
    same, lengths = laid_out(config, "lstm-unpadded", X)
    assert same is X and (lengths == set_sizes(X)).all()
    wide, lengths = laid_out(config, "deepsets", X)
    assert (wide[:, 10:] == X).all() and ((lengths - set_sizes(X)) <= 10).all()


def test_lstm_section_with_the_lstm_trained_unpadded(tmp_path):
    config = LabConfig(**{**TINY.to_dict(), "models": ["lstm", "lstm-unpadded"],
                          "cards": [5, 10, 20]})
    done = run_lab(config, tmp_path / "lstms")
    text = (tmp_path / "lstms" / "report.md").read_text()
    p = json.loads((tmp_path / "lstms" / "analysis.json").read_text())["lstm_padding"]
    assert "## Why the LSTM fails on sets shorter than 10" in text
    assert f"| 5 | {p['unpadded'][4]:.4f} | {p['padded'][4]:.4f} |" in text
    acc = done.results["lstm-unpadded"]["acc"]
    assert f"| 5 | {done.results['lstm']['acc'][0]:.4f} | {acc[0]:.4f} |" in text
    assert "\nlstm-unpadded,5," in (tmp_path / "lstms" / "results.csv").read_text()


def test_images_report_q_from_each_unseen_image_alone(tmp_path):
    from deepsets.core.tasks import digit_images, image_tokens

    config = LabConfig(**{**TINY.to_dict(), "task": "images", "models": ["deepsets"],
                          "recipe": "exact", "n_train": 500, "cards": [2, 5]})
    run_lab(config, tmp_path / "images")
    im = json.loads((tmp_path / "images" / "analysis.json").read_text())["images"]
    state = load_checkpoint(tmp_path / "images" / "deepsets.pt", "deepsets")
    assert "refit" not in state  # images: exact is masked only
    model = load_trained(tmp_path / "images", config, "deepsets")[0]
    tokens = torch.as_tensor(image_tokens("test")).unsqueeze(1)  # each image, a set alone
    with torch.no_grad():
        alone = model(tokens).numpy() - im["b2"]
    shown = digit_images()[1][image_tokens("test") - 1]
    assert im["q_test"] == pytest.approx(np.mean(np.round(alone) == shown), abs=1e-9)
    assert im["predicted_q_power"] == pytest.approx([im["q_test"] ** 2, im["q_test"] ** 5])
    text = (tmp_path / "images" / "report.md").read_text()
    assert f"**q = {im['q_test']:.4f}**" in text
    assert "refit of the `exact` recipe is skipped" in text


def test_a_real_valued_task_is_scored_by_mae_alone_beside_the_constant_guess():
    from deepsets import create_test_dataset, predict
    from deepsets.core.pipeline import rng_for_test_sets, score_models, seeded_model, train_sets

    config = LabConfig(task="mean", models=("deepsets",), n_train=300, n_per_card=50,
                       cards=(3, 7), embedding_dim=8, hidden_dim=4)
    model = seeded_model("deepsets", config)
    results = score_models({"deepsets": model}, config)
    assert list(results) == ["cards", "deepsets", "constant"]
    assert results["cards"] == [3, 7] and set(results["deepsets"]) == {"mae"}
    X, _ = create_test_dataset(50, (3, 7), 10, rng_for_test_sets(config))  # the same sets
    guess = train_sets(config)[1].mean()  # the training targets' mean, for every set
    for i, x in enumerate(X):
        expected = np.abs(x.mean(axis=1) - predict(model, x).astype(np.float64)).mean()
        assert results["deepsets"]["mae"][i] == pytest.approx(expected, rel=1e-6)
        assert results["constant"]["mae"][i] == pytest.approx(
            np.abs(x.mean(axis=1) - guess).mean(), rel=1e-12)


def test_reach_in_words():
    from deepsets.lab.sections import reach_text

    cards = [5, 10, 20]
    assert reach_text(cards, [1.0, 0.995, 0.5]) == \
        "at least 99% accurate at every size from 5 to 10 digits"
    assert reach_text(cards, [0.999, 0.9, 0.995]) == "at least 99% accurate only at 5, 20 digits"
    assert reach_text(cards, [0.999, 0.9, 0.5]) == "at least 99% accurate only at 5 digits"
    assert reach_text(cards, [0.5, 0.9, 0.7]) == "never 99% accurate; at best 90.00% at 10 digits"


def test_a_lab_run_makes_its_training_sets_once(tmp_path, monkeypatch):
    # a real target: training needs the sets, the constant guess their targets' mean
    from deepsets.core import pipeline
    from deepsets.core.results import GUESS
    from deepsets.lab import run

    config = LabConfig(**{**TINY.to_dict(), "task": "mean", "models": ["deepsets-mean"],
                          "n_train": 640, "epochs": 1, "cards": [5, 10]})
    made, make = [], pipeline.train_sets

    def counted(made_for):
        made.append(made_for == config)
        return make(made_for)
    monkeypatch.setattr(pipeline, "train_sets", counted)
    monkeypatch.setattr(run, "train_sets", counted)
    for later in ("plot_run", "report_run"):  # the analyses: tested above, not counted here
        monkeypatch.setattr(run, later, lambda *args: None)
    done = run_lab(config, tmp_path / "mean")
    assert made == [True]
    assert GUESS in done.results  # scored from those targets
