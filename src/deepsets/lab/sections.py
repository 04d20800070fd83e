"""The report's sections, one per analysis (the questions, the drift, the reach, images,
the LSTM's padding), and the phrases they share. Every sentence that states a finding is
computed from the run's own numbers.
"""

from __future__ import annotations

from deepsets.core.recipes import RECIPES
from deepsets.core.settings import LabConfig


def exact_up_to(cards: list[int], acc: list[float], level: float = 0.99) -> int | None:
    """The largest size up to which every tested size has accuracy >= ``level``."""
    best = None
    for card, a in zip(cards, acc, strict=True):
        if a < level:
            break
        best = card
    return best


def reach_text(cards: list[int], acc: list[float]) -> str:
    """Where a model is at least 99% accurate, in words."""
    reach = exact_up_to(cards, acc)
    good = [c for c, a in zip(cards, acc, strict=True) if a >= 0.99]
    best = max(range(len(cards)), key=lambda i: acc[i])
    if reach is not None and reach != cards[0]:
        return f"at least 99% accurate at every size from {cards[0]} to {reach} digits"
    if good:
        return "at least 99% accurate only at " + ", ".join(map(str, good)) + " digits"
    return f"never 99% accurate; at best {acc[best]:.2%} at {cards[best]} digits"


def fmt_cards(cards: list[int]) -> str:
    """Sizes as a reader scans them: ``5, 10, ..., 100`` for a long even range."""
    step = cards[1] - cards[0] if len(cards) > 4 else 0
    if step > 0 and list(cards) == list(range(cards[0], cards[-1] + 1, step)):
        return f"{cards[0]:,}, {cards[1]:,}, ..., {cards[-1]:,}"
    return ", ".join(f"{c:,}" for c in cards)


def question1_section(q1: dict) -> str:
    """Question 1: the exact ReLU DeepSets, derived and then measured, for the run's digits
    (``max_digit``) and training sets (``max_card`` tokens)."""
    cards, big, tested = q1["cards"], q1["big_cards"], q1["test_cards"]
    top, n = q1["max_digit"], q1["max_card"]
    rows = "\n".join(
        f"| {name} | {q1[name]['train_acc']:.4f} | {min(q1[name]['acc']):.4f} "
        f"| {max(q1[name]['mae']):.3g} | {q1[name]['acc'][-1]:.4f} | {q1[name]['mae'][-1]:.3g} |"
        for name in ("canonical", "scaled", "pad_shift"))
    shift, far = q1["pad_shift"], tested.index(max(tested))  # the largest test size
    big_sets = f" and {q1['n_big']:,} sets each of {fmt_cards(big)} digits" if big else ""
    return f"""## Question 1: the optimal DeepSets parameters (ReLU)

With ReLU, DeepSets computes `f(X) = b2 + sum_(x in X) a_x` where each token's contribution
is `a_d = w2 . ReLU(W1 e_d + b1)`: with the digits 1..{top} and the pad token 0, the model is
linear in {top + 2} numbers a_0..a_{top} and b2.

- **Exact on sets of every size** means `a_d = d` for every digit and `b2 = 0`: the sets
  `{{d}}` and `{{d, d}}` need `a_d + b2 = d` and `2 a_d + b2 = 2 d`.
- **The padding token must contribute nothing**, `a_0 = 0`: a padded training set adds
  `n_0 a_0` for its n_0 padding slots, and n_0 takes every value 0..{n - 1}.
- **The family of optimal parameters** is every (embedding, W1, b1, w2, b2) meeting these
  {top + 2} conditions; given phi they are linear in (w2, b2). **Canonical member:** embed
  digit d as `e_d = d u1` (so `e_0 = 0`), let the first hidden unit read that coordinate
  (`W1[0, 0] = 1`, all other W1 entries 0), `b1 = 0`, `w2 = u1`, `b2 = 0`. Then
  `ReLU(d) = d` because d >= 0, so `a_d = d` and f(X) is the exact sum. Scaling the
  embedding by s and W1 by 1/s, or adding hidden units whose output weight is 0, stays
  in the family.

Measured on {q1["n_train"]:,} training sets of 1..{n} digits from 1..{top} (left-padded to
{n} tokens), {q1["n_per_card"]:,} test sets at each size {fmt_cards(tested)}{big_sets}
(sizes {min(cards):,}..{max(cards):,}):

| model | train acc | worst test acc | worst test MAE | acc at {cards[-1]:,} \
| MAE at {cards[-1]:,} |
|---|---:|---:|---:|---:|---:|
{rows}

`canonical` and `scaled` (s = 0.37) are the exact solution: 100% everywhere, up to
{cards[-1]:,} digits. `pad_shift` shows why a_0 and b2 must be 0 and why training alone
cannot tell: it adds s = 0.01 to every token, pad included (`a_0 = {shift["a"][0]:.3g}`,
`a_d = d + 0.01`), and sets `b2 = {shift["b2"]:.3g}`. Every training set holds {n} tokens,
so it is exact on all of them (train accuracy {shift["train_acc"]:.0%}), yet an unpadded
set of N digits is off by `(N - {n}) s`: MAE {shift["mae"][far]:.2f} at {tested[far]:,}
digits and {shift["mae"][-1]:.1f} at {cards[-1]:,}.
"""


def question2_section(q2: dict) -> str:
    """Question 2: can DeepSets tell apart sets whose elements sum to the same vector?"""
    sets = "; ".join("{" + ", ".join(f"[{a:g}, {b:g}]" for a, b in s) + "}" for s in q2["sets"])
    names = {"linear": "linear phi(x) = Wx + b", "tanh-no-bias": "tanh(Wx), no bias (odd)",
             "tanh": "tanh MLP with biases", "relu": "ReLU MLP with biases"}
    rows = "\n".join(
        f"| {names[k]} | {q2[k]['init_min_distance']:.3g} | {q2[k]['trained_min_distance']:.3g} "
        f"| {q2[k]['trained_mse']:.3g} | "
        + ", ".join(f"{p:.2f}" for p in q2[k]["predictions"]) + " |"
        for k in names)
    return f"""## Question 2: four sets that all sum to [0, 0]

**Yes, DeepSets can give them different representations, but only because phi is
nonlinear, and not with every nonlinear phi.** Two vectors that sum to [0, 0] are always
`{{x, -x}}`, so the sets are {sets}. The representation is `sum_x phi(x) = phi(x) + phi(-x)`.

- With a **linear** phi, `phi(x) + phi(-x) = 2b` for every x: all four sets get the same
  representation and no rho can separate them.
- With an **odd** phi (tanh with zero bias: `tanh(-Wx) = -tanh(Wx)`), the sum is 0 for
  every set: the same failure.
- With a phi that is neither (an MLP with biases, tanh or ReLU: `ReLU(Wx) + ReLU(-Wx) =
  |Wx|`), `phi(x) + phi(-x)` depends on x, so the sets get different representations and
  rho can map them to different outputs.

Measured: each DeepSets (phi with 16 hidden units, sum, linear rho) trained to output 0, 1,
2, 3 for the four sets (Adam, 500 steps). "Closest pair" is the smallest distance between
two of the four representations.

| phi | closest pair at init | closest pair trained | trained MSE | outputs |
|---|---:|---:|---:|---|
{rows}

The linear and odd phis cannot do better than predicting the mean, 1.5 (MSE 1.25); the
nonlinear phis with biases separate the sets and fit the targets.
"""


def drift_section(d: dict, config: LabConfig) -> str:
    """Why the trained DeepSets drifts at large sets, from its contributions a_1..a_max_digit
    and b2."""
    a, cards = d["a"], d["cards"]
    top = len(a) - 1  # the largest digit
    contrib = "\n".join(f"| {t} | {a[t]:+.5f} | {small(a[t] - t)} |" for t in range(1, len(a)))
    rows = "\n".join(
        f"| {c} | {d['predicted']['mae'][i]:.4f} | {d['measured']['mae'][i]:.4f} "
        f"| {d['mae_ratio'][i]:.3f} | {d['predicted']['acc'][i]:.4f} "
        f"| {d['measured']['acc'][i]:.4f} |"
        for i, c in enumerate(cards))
    m, b2 = d["digit_error_mean"], d["b2"]
    refit = d.get("refit")
    refit_line = (f"\nThis run's recipe refit the output layer by least squares: training MAE "
                  f"{refit['train_mae_before']:.4f} before, {refit['train_mae_after']:.2g} "
                  "after.\n" if refit else "")
    return f"""## Why DeepSets drifts on large sets (recipe: {config.recipe})

A trained DeepSets is linear in its per-token contributions `a_d = w2 . tanh(W1 e_d + b1)`:
on an unpadded set its error is `b2 + sum_x (a_x - x)`. This run's model:

| token d | a_d | a_d - d |
|---:|---:|---:|
| 0 (pad) | {small(a[0])} | |
{contrib}

b2 = {small(b2)}. The per-digit error `a_d - d` has mean {small(m)} and spread \
{small(d["digit_error_std"])[1:]}:
a set of N digits is off by `b2 + N x ({small(m)})` on average, plus noise that grows like
`sqrt(N)`. The mean error crosses +-0.5, where rounding starts to fail, near
N = {crossing(b2, m)}. {identified(d, config)}
{refit_line}
The error at each size predicted from these {top + 1} numbers alone (a_1..a_{top} and b2; normal
approximation of the sum of N independent per-digit errors) against the measured error:

![predicted vs measured](drift.png)

| digits | predicted MAE | measured MAE | ratio | predicted acc | measured acc |
|---:|---:|---:|---:|---:|---:|
{rows}

**Two fixes.** `deepsets lab --recipe exact` changes the model: it masks the padding, so
`a_0 = 0` by construction and b2 becomes identifiable, then refits the output layer (w2, b2)
by least squares on the training sets' pooled features. The prediction is linear in
(w2, b2), so the fit has a closed form, and
{refit_reach(config.hidden_dim, top)}: the solution question 1 describes. `deepsets lab --recipe
padded` keeps the handout's model and changes the data and the schedule: each training set
carries 0..{config.max_card} pad tokens whatever its size, so the pad count no longer tells
the size and a_0 and b2 are pinned down apart, and the learning rate decays to zero on a
cosine, so the last steps settle instead of jittering around the solution.
"""


def lstm_section(p: dict, results: dict, config: LabConfig) -> str:
    """Why the LSTM fails on short sets: the same sets scored unpadded and padded, and the
    LSTM trained unpadded when the run has one."""
    n = config.max_card
    rows = "\n".join(f"| {k} | {u:.4f} | {q:.4f} |"
                     for k, u, q in zip(p["sizes"], p["unpadded"], p["padded"], strict=True))
    five = p["sizes"].index(min(5, n))
    text = f"""## Why the LSTM fails on sets shorter than {n}

The LSTM saw sets of 1..{n} digits in training, but always as {n} tokens: a set of
{p["sizes"][five]} digits was {n - p["sizes"][five]} pad tokens, then its digits. The test
sets are not padded. The same {p["sets"]:,} sets of each size, scored both ways:

| digits | unpadded (as tested) | left-padded to {n} tokens (as trained) |
|---:|---:|---:|
{rows}

Padded as in training, the {p["sizes"][five]}-digit sets are {p["padded"][five]:.1%} right,
against {p["unpadded"][five]:.1%} unpadded: the LSTM learned to sum sequences of {n} tokens,
with the pad tokens as part of the input, not sets of any length.
"""
    if "lstm-unpadded" not in results:
        return text + ("\nAn LSTM trained on the sets unpadded (`--models lstm,lstm-unpadded`) "
                       "shows what that costs.\n")
    cards, acc = results["cards"], results["lstm-unpadded"]["acc"]
    padded_acc = results["lstm"]["acc"]
    rows = "\n".join(f"| {c} | {padded_acc[i]:.4f} | {acc[i]:.4f} |"
                      for i, c in enumerate(cards) if c <= 4 * n)
    return text + f"""
`lstm-unpadded` is the same LSTM trained on the same sets without padding, in batches of
sets of one length. Its accuracy on the test sets, beside the LSTM trained padded:

| digits | LSTM (padded training) | LSTM (unpadded training) |
|---:|---:|---:|
{rows}

Trained unpadded, it is {reach_text(cards, acc)}; trained padded, it is
{reach_text(cards, padded_acc)}. Beyond {n} digits both meet lengths they never saw.
"""


def images_section(im: dict, config: LabConfig) -> str:
    """Set accuracy on images explained by the per-image accuracy q."""
    rows = "\n".join(
        f"| {c} | {im['predicted_q_power'][i]:.3f} | {im['predicted_from_errors'][i]:.3f} | "
        f"{im['measured'][i]:.3f} |" for i, c in enumerate(im["cards"]))
    quant = im["error_quantiles"]
    asked = RECIPES[config.recipe].refit and not config.recipe_for("deepsets").refit
    refit = ("" if not asked else
             "\nThe least-squares refit of the `exact` recipe is skipped on images: it fits the "
             "training images' own values and unseen images pay for it (docs/recipes.md).\n")
    return f"""## Images: how well DeepSets reads one image

Each image adds its own contribution `a_x` to a prediction, learned from sums alone: no
digit label was used in training. Rounded, `a_x` should be the digit the image shows.
It is for **q = {im["q_test"]:.4f}** of the {im["test_images"]:,} unseen test images
(and {im["q_train"]:.4f} of the {im["train_images"]:,} training images). The errors
`|a_x - digit|` on unseen images: median {quant["0.5"]:.3f}, 90% below {quant["0.9"]:.3f}, 99% below
{quant["0.99"]:.3f}, largest {quant["1.0"]:.2f}.

A set of N unseen images is right about `q^N` of the time if one misread image spoils the
sum; errors can also cancel, which the sum of N per-image errors drawn from the test
images (plus b2 = {im["b2"]:+.3g}) predicts:
{refit}
| images | predicted q^N | predicted from the errors | measured |
|---:|---:|---:|---:|
{rows}
"""


def identified(d: dict, config: LabConfig) -> str:
    """What this run's training sets pin down of a_0 and b2."""
    if config.padding("deepsets") == "free":
        return (f"Each training set carried 0..{config.max_card} pad tokens whatever its size, "
                "so the pad count varied on its own and training pinned down the pad token's "
                f"contribution and b2 apart: `a_0` = {small(d['a'][0])}, b2 = {small(d['b2'])}.")
    if config.recipe_for("deepsets").mask_padding:
        return (f"The pad token is masked (`a_0 = 0`), so the training sets of "
                f"1..{config.max_card} digits pin down b2 (here {small(d['b2'])}) as well as "
                "the per-digit contributions.")
    return (f"Every training set has exactly {config.max_card} tokens, so training pins down "
            f"only `b2 + {config.max_card} a_0` (here {small(d['train_offset'])}) and the "
            "differences `a_d - a_0`: the pad token's own contribution and b2 can trade off "
            f"freely, and a per-digit error of 0.01 that costs nothing at {config.max_card} "
            f"digits costs {9 * config.max_card * 0.01:.2g} at {10 * config.max_card}.")


def refit_reach(hidden: int, top: int) -> str:
    """Whether a least-squares output layer can make ``a_d = d`` for the digits 1..top: one
    condition per digit on ``hidden`` weights, so enough hidden units make it exact."""
    if hidden >= top:
        return (f"with {hidden} hidden units for {top + 1} tokens it can make `a_d = d` and "
                "`b2 = 0` exactly")
    return (f"with {hidden} hidden units for {top} digits it has fewer weights than "
            "conditions and comes as close to `a_d = d` and `b2 = 0` as they allow")


def reach_section(r: dict, results: dict) -> str:
    """The largest exact size, predicted from the model's two limits and then measured."""
    level, check = r["level"], r["check"]
    first = check["cards"][0]
    binds = "float32 rounding" if r["float32"] < r["learned"] else "the learned per-digit error"
    rows = "\n".join(
        f"| {card:,} | {check['sets']} | {check['rounding_sd'][i]:.3g} | "
        f"{check['predicted_float32'][i]:.2f} | {check['measured_float32'][i]:.2f} | "
        f"{check['predicted_float64'][i]:.2f} | {check['measured_float64'][i]:.2f} |"
        for i, card in enumerate(check["cards"]))
    return f"""## How far does DeepSets stay exact?

Predicted as the largest set size at which at least {level:.0%} of the sets of uniform
digits are summed exactly, from two limits:

- **The learned per-digit error** (the contributions above, with exact arithmetic): up to
  **{r["learned"]:,} digits**.
- **float32 rounding.** The pooled features of N digits grow like N and float32 keeps each
  within a relative 2^-24, so a float32 prediction carries a rounding error that grows like
  N too: about `s N`. Measured as the spread between this model's float32 and float64
  predictions on the same {check["sets"]} sets of {first:,} digits, s =
  {r["rounding_per_digit"]:.3g} (the first-order estimate `2^-24 sum_j |w2_j m_j|`, m_j the
  j-th feature's mean over the digits, gives {r["first_order_scale"]:.3g}). With it: up to
  **{r["float32"]:,} digits**. Beyond {r["representable"]:,} digits the average sum passes
  2^24, where float32 cannot even hold every integer.

The binding limit is **{binds}**: computed in float32, as trained, the model is predicted
exact up to {min(r["float32"], r["learned"]):,} digits; evaluating in float64 removes the
rounding and {"moves the limit to " + format(r["learned"], ",") + " digits"
              if r["float32"] < r["learned"] else "does not move it"}.
On this run's test sets DeepSets is {reach_text(results["cards"], results["deepsets"]["acc"])}.
Checked on new sets (the share summed exactly, predicted and measured; the rounding column
is the spread between float32 and float64 predictions):

| digits | sets | rounding | predicted float32 | measured float32 | predicted float64 \
| measured float64 |
|---:|---:|---:|---:|---:|---:|---:|
{rows}
"""


def small(x: float) -> str:
    """A signed number that may be tiny: 5 decimals, or 3 significant digits below 1e-4."""
    return f"{x:+.5f}" if x == 0 or abs(x) >= 1e-4 else f"{x:+.2e}"


def crossing(b2: float, m: float) -> str:
    """The set size at which the mean error b2 + N m reaches +-0.5."""
    if m == 0:
        return "never"
    n = max((0.5 - b2) / m, (-0.5 - b2) / m)
    return f"{n:,.0f}" if n > 0 else "never"
