"""How the sum-pooling DeepSets is trained, one entry each in ``RECIPES``: named switches
over the handout's way, and the tasks a switch does not apply to.

``handout`` is the handout, unchanged. The others keep its data, sizes and optimizer and
change the model, the training sets' padding or the learning rate. A new recipe is one
entry here: the settings, the trainer and the report read its switches, never its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Recipe:
    """Switches over the handout's way of training."""

    about: str  # one line for --help and docs
    mask_padding: bool = False  # pad tokens add nothing (phi(PAD) = 0)
    refit: bool = False  # after Adam, the output layer is refit by least squares
    free_pads: bool = False  # each training set gets 0..max_card pad tokens, apart from its size
    schedule: str = "constant"  # the learning rate's schedule (``train.SCHEDULES``)
    #: each training image deformed afresh whenever it is seen (``mnist.deform``)
    deform: bool = False
    #: switch -> the tasks it is off on, by name or by the kind of their elements
    skips: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def on(self, task: str, inputs: str = "tokens") -> Recipe:
        """The switches as they apply on ``task``, whose elements are ``inputs``."""
        return replace(self, **{switch: False for switch, tasks in self.skips.items()
                                if task in tasks or inputs in tasks})


#: The refit fits the training images' own values, and unseen images pay for it
#: (docs/recipes.md): on images it is off. It solves for a table of tokens: vectors have
#: none.
NO_REFIT_ON_IMAGES = {"refit": ("images", "mnist", "vectors")}

RECIPES: dict[str, Recipe] = {
    "handout": Recipe("the handout as written: pad tokens add phi(0), output layer from Adam"),
    "masked": Recipe("pad tokens add nothing (phi(PAD) = 0)", mask_padding=True),
    "refit": Recipe("after Adam, the output layer is refit by least squares on the training "
                    "sets", refit=True, skips=NO_REFIT_ON_IMAGES),
    "exact": Recipe("masked + refit: the output layer solves the sum exactly (images: masked "
                    "only)", mask_padding=True, refit=True, skips=NO_REFIT_ON_IMAGES),
    "pads": Recipe("each training set gets 0..max_card pad tokens, drawn apart from its size",
                   free_pads=True),
    "cosine": Recipe("the learning rate decays to zero on a cosine", schedule="cosine"),
    "padded": Recipe("pads + cosine: the handout's model unchanged, exact from its data and "
                     "schedule", free_pads=True, schedule="cosine"),
    "infimnist": Recipe("masked + cosine, and every MNIST training image deformed afresh "
                        "each time it is seen, as InfiMNIST's are (an elastic distortion; "
                        "MNIST only)", mask_padding=True, deform=True, schedule="cosine",
                        skips={"deform": ("tokens", "images", "vectors")}),
}
