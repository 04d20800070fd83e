"""The run in words: ``report.md`` with the settings, the table and the figures.

Every sentence that states a finding is computed from the run's own numbers.
"""

from __future__ import annotations

from pathlib import Path

from deepsets.config import LabConfig
from deepsets.plot import ACCURACY_PNG, MAE_PNG, label
from deepsets.runfolder import REPORT, write_text


def model_names(results: dict) -> list[str]:
    return [m for m in results if m != "cards"]


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


def exact_up_to(cards: list[int], acc: list[float], level: float = 0.99) -> int | None:
    """The largest size up to which every tested size has accuracy >= ``level``."""
    best = None
    for card, a in zip(cards, acc, strict=True):
        if a < level:
            break
        best = card
    return best


def findings(results: dict) -> list[str]:
    """One sentence per model on how far its accuracy carries beyond the training sizes."""
    cards, lines = results["cards"], []
    for m in model_names(results):
        acc, mae = results[m]["acc"], results[m]["mae"]
        reach = exact_up_to(cards, acc)
        good = [c for c, a in zip(cards, acc, strict=True) if a >= 0.99]
        best = max(range(len(cards)), key=lambda i: acc[i])
        if reach is not None:
            reach_text = f"at least 99% accurate at every size from {cards[0]} to {reach} digits"
        elif good:
            reach_text = "at least 99% accurate only at " + ", ".join(map(str, good)) + " digits"
        else:
            reach_text = f"never 99% accurate; at best {acc[best]:.1%} at {cards[best]} digits"
        lines.append(f"- **{label(m)}** is {reach_text}; at {cards[-1]} digits its accuracy "
                     f"is {acc[-1]:.1%} and its MAE {mae[-1]:.3g}.")
    return lines


def write_report(run: Path, config: LabConfig, results: dict,
                 history: dict[str, list[dict]]) -> Path:
    """Write ``report.md`` for one run folder and return its path."""
    train_lines = [
        f"- {label(m)}: {len(h)} epochs, final training L1 loss {h[-1]['loss']:.4f}, "
        f"{sum(e['seconds'] for e in h):.1f} s"
        for m, h in history.items() if h
    ]
    text = f"""# Sum of digits: DeepSets against the LSTM

Handout "Symmetry in Deep Learning Representations", tasks 1-7. Trained on
{config.n_train:,} sets of 1-{config.max_card} digits (from 1..{config.max_digit}, left
zero-padded to {config.max_card}); tested on {config.n_per_card:,} sets at each size
{", ".join(map(str, config.cards))}.

Settings: seed {config.seed}, {config.epochs} epochs, batch {config.batch_size}, embedding
{config.embedding_dim}, hidden {config.hidden_dim}, Adam lr {config.lr:g}, L1 loss.
Every setting is in `config.json`.

## Training

{chr(10).join(train_lines)}

## Accuracy and mean absolute error by set size

{chr(10).join(findings(results))}

The LSTM was trained only on sequences of exactly {config.max_card} tokens (shorter sets are
left-padded with zeros), while the test sets are not padded: every test size other than
{config.max_card} is a sequence length it never saw, and its output depends on the order of
the digits. DeepSets adds up one feature vector per digit, so its output is the same for any
order, and a set of any size is a sum of the same per-digit terms it was trained on.

![accuracy by set size]({ACCURACY_PNG})

![MAE by set size]({MAE_PNG})

{results_table(results)}
"""
    path = Path(run) / REPORT
    write_text(path, text)
    return path
