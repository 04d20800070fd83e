"""The run in words: ``report.md`` with the settings, the table and the figures.

Every sentence that states a finding is computed from the run's own numbers.
"""

from __future__ import annotations

from pathlib import Path

from deepsets.core.results import model_names
from deepsets.core.runfolder import ACCURACY_PNG, MAE_PNG, REPORT, write_text
from deepsets.core.settings import LabConfig
from deepsets.core.tasks import TASKS
from deepsets.lab.plot import label
from deepsets.lab.sections import (
    drift_section,
    images_section,
    lstm_section,
    question1_section,
    question2_section,
    reach_section,
    reach_text,
)

HANDOUT_PAIR = """
The LSTM was trained only on sequences of exactly {n} tokens (shorter sets are left-padded
with zeros), while the test sets are not padded: every test size other than {n} is a
sequence length it never saw, and its output depends on the order of the digits. DeepSets
adds up one feature vector per digit, so its output is the same for any order, and a set of
any size is a sum of the same per-digit terms it was trained on.
"""


def results_table(results: dict) -> str:
    """A Markdown table: one row per set size, accuracy and MAE per model."""
    models = model_names(results)
    head = "| digits | " + " | ".join(f"{label(m)} acc | {label(m)} MAE" for m in models) + " |"
    rule = "|---:|" + "---:|---:|" * len(models)
    rows = [
        f"| {card} | " + " | ".join(
            f"{results[m]['acc'][i]:.4f} | {results[m]['mae'][i]:.3f}" for m in models) + " |"
        for i, card in enumerate(results["cards"])
    ]
    return "\n".join([head, rule, *rows])


def findings(results: dict) -> list[str]:
    """One sentence per model on how far its accuracy carries beyond the training sizes."""
    cards, lines = results["cards"], []
    for m in model_names(results):
        acc, mae = results[m]["acc"], results[m]["mae"]
        lines.append(f"- **{label(m)}** is {reach_text(cards, acc)}; at {cards[-1]} digits its "
                     f"accuracy is {acc[-1]:.1%} and its MAE {mae[-1]:.3g}.")
    return lines


def write_report(run: Path, config: LabConfig, results: dict,
                 history: dict[str, list[dict]], analysis: dict | None = None) -> Path:
    """Write ``report.md`` for one run folder and return its path."""
    train_lines = [
        f"- {label(m)}: {len(h)} epochs, final training L1 loss {h[-1]['loss']:.4f}, "
        f"{sum(e['seconds'] for e in h):.1f} s"
        for m, h in history.items() if h
    ]
    text = f"""# {TASKS[config.task].title}: {" against ".join(label(m) for m in config.models)}

Handout "Symmetry in Deep Learning Representations", tasks 1-7. Trained on
{config.n_train:,} sets of 1-{config.max_card} digits (from 1..{config.max_digit}, left
zero-padded to {config.max_card}); tested on {config.n_per_card:,} sets at each size
{", ".join(map(str, config.cards))}.

Settings: task {config.task}, seed {config.seed}, {config.epochs} epochs, batch \
{config.batch_size}, embedding {config.embedding_dim}, hidden {config.hidden_dim}, Adam lr \
{config.lr:g}, L1 loss.
Every setting is in `config.json`.

## Training

{chr(10).join(train_lines)}

## Accuracy and mean absolute error by set size

{chr(10).join(findings(results))}
{HANDOUT_PAIR.format(n=config.max_card) if {"deepsets", "lstm"} <= set(config.models) else ""}

![accuracy by set size]({ACCURACY_PNG})

![MAE by set size]({MAE_PNG})

{results_table(results)}
"""
    if analysis:
        text += "\n" + question1_section(analysis["question1"])
        text += "\n" + question2_section(analysis["question2"])
        if "drift" in analysis:
            text += "\n" + drift_section(analysis["drift"], config)
        if "reach" in analysis:
            text += "\n" + reach_section(analysis["reach"], results)
        if "images" in analysis:
            text += "\n" + images_section(analysis["images"], config)
        if "lstm_padding" in analysis:
            text += "\n" + lstm_section(analysis["lstm_padding"], results, config)
    path = Path(run) / REPORT
    write_text(path, text)
    return path
