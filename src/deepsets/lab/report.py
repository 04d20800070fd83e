"""The run in words: ``report.md`` with the settings, the table and the figures.

Every sentence that states a finding is computed from the run's own numbers.
"""

from __future__ import annotations

from pathlib import Path

from deepsets.core.results import (
    ESTIMATE,
    GUESS,
    REFERENCES,
    metrics_of,
    model_names,
    scores_at,
)
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

#: Each loss (``train.LOSSES``) in the report's words.
LOSS_WORDS = {"l1": "L1 loss", "cross-entropy": "cross-entropy loss"}

HANDOUT_PAIR = """
The LSTM was trained only on sequences of exactly {n} tokens (shorter sets are left-padded
with zeros), while the test sets are not padded: every test size other than {n} is a
sequence length it never saw, and its output depends on the order of the digits. DeepSets
adds up one feature vector per digit, so its output is the same for any order, and a set of
any size is a sum of the same per-digit terms it was trained on.
"""


def number(value: float | None, fmt: str) -> str:
    """A score, or ``n/a`` where there is none (a size the model does not apply to)."""
    return "n/a" if value is None else f"{value:{fmt}}"


def results_table(results: dict, unit: str = "digits") -> str:
    """A Markdown table: one row per set size (in ``unit``), accuracy (whole-number
    targets, classes) and MAE per model."""
    models = model_names(results)
    metrics = [(k, name, fmt) for k, name, fmt in (("acc", "acc", ".4f"), ("mae", "MAE", ".3f"))
               if k in metrics_of(results)]
    head = f"| {unit} | " + " | ".join(f"{label(m)} {name}" for m in models
                                      for _, name, _ in metrics) + " |"
    rule = "|---:|" + "---:|" * len(models) * len(metrics)
    rows = [
        f"| {card} | " + " | ".join(number(scores_at(results, m, k)[i], fmt)
                                    for m in models for k, _, fmt in metrics) + " |"
        for i, card in enumerate(results["cards"])
    ]
    return "\n".join([head, rule, *rows])


def at_sizes(met: list[int]) -> str:
    """``at sizes 5, 10``, or ``at no size tested``."""
    sizes = ", ".join(map(str, met))
    return f"at size{'s' if len(met) > 1 else ''} {sizes}" if met else "at no size tested"


def training_sets(config: LabConfig) -> str:
    """The run's training and test sets, in words."""
    task = TASKS[config.task]
    if task.elements.form == "tokens":
        return (f"{config.n_train:,} sets of 1-{config.max_card} digits (from "
                f"1..{config.max_digit}, left\nzero-padded to {config.max_card}); tested on "
                f"{config.n_per_card:,} sets at each size\n{', '.join(map(str, config.cards))}.")
    return (f"{config.n_train:,} sets of {task.scale}-{config.max_size:,} "
            f"{task.elements.words} (in steps of {task.scale}, in batches of one size); tested "
            f"on {config.n_per_card:,} sets at each size {', '.join(map(str, config.sizes))}.")


def findings(results: dict, task: str) -> list[str]:
    """One sentence per model on how far it carries beyond the training sizes: by accuracy
    for a whole-number task, else by the task's criterion (``Task.meets``)."""
    cards, lines = results["cards"], []
    guess = results.get(GUESS, {}).get("mae")
    estimate = results.get(ESTIMATE, {}).get("mae") or [None] * len(cards)
    for m in model_names(results):
        acc, mae = scores_at(results, m, "acc"), scores_at(results, m, "mae")
        if TASKS[task].classes:
            met = [c for i, c in enumerate(cards) if TASKS[task].meets(acc[i], None, None)]
            lines.append(f"- **{label(m)}** meets the task ({TASKS[task].criterion}) "
                         f"{at_sizes(met)}; at {cards[-1]:,} elements its accuracy is "
                         f"{number(acc[-1], '.1%')} (chance: {1 / TASKS[task].outputs:.1%}).")
        elif TASKS[task].whole:
            lines.append(f"- **{label(m)}** is {reach_text(cards, acc)}; at {cards[-1]} digits "
                         f"its accuracy is {number(acc[-1], '.1%')} and its MAE "
                         f"{number(mae[-1], '.3g')}.")
        elif m not in REFERENCES:
            met = [c for i, c in enumerate(cards)
                   if TASKS[task].meets(None, mae[i], guess[i], estimate[i])]
            lines.append(f"- **{label(m)}** meets the task ({TASKS[task].criterion}) "
                         f"{at_sizes(met)}; "
                         f"at {cards[-1]} elements its MAE is {number(mae[-1], '.3g')} "
                         f"(the constant guess's {number(guess[-1], '.3g')}"
                         + (f", the plug-in estimate's {number(estimate[-1], '.3g')}"
                            if ESTIMATE in results else "") + ").")
    return lines


def write_report(run: Path, config: LabConfig, results: dict,
                 history: dict[str, list[dict]], analysis: dict | None = None) -> Path:
    """Write ``report.md`` for one run folder and return its path."""
    train_lines = [
        f"- {label(m)}: {len(h)} epochs, final training "
        f"{LOSS_WORDS[TASKS[config.task].loss]} {h[-1]['loss']:.4f}, "
        f"{sum(e['seconds'] for e in h):.1f} s"
        for m, h in history.items() if h
    ]
    metrics, tokens = TASKS[config.task].metrics, TASKS[config.task].elements.form == "tokens"
    text = f"""# {TASKS[config.task].title}: {" against ".join(label(m) for m in config.models)}

Handout "Symmetry in Deep Learning Representations", tasks 1-7. Trained on
{training_sets(config)}

Settings: task {config.task}, seed {config.seed}, {config.epochs} epochs, batch \
{config.batch_size}, embedding {config.embedding_dim}, hidden {config.hidden_dim}, Adam lr \
{config.lr:g}, {LOSS_WORDS[TASKS[config.task].loss]}.
Every setting is in `config.json`.

## Training

{chr(10).join(train_lines)}

## Accuracy and mean absolute error by set size

{chr(10).join(findings(results, config.task))}
{HANDOUT_PAIR.format(n=config.max_card) if {"deepsets", "lstm"} <= set(config.models) else ""}
{f"{chr(10)}![accuracy by set size]({ACCURACY_PNG}){chr(10)}" if "acc" in metrics else ""}
{f"![MAE by set size]({MAE_PNG}){chr(10)}" if "mae" in metrics else ""}
{results_table(results, "digits" if tokens else "elements")}
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
