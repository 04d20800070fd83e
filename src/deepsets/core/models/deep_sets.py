"""DeepSets (Zaheer et al. 2017; handout task 3): ``rho(pool(phi(x) for x in X))``, a set
model of parts (``parts``): the handout's is a linear phi with tanh, the sum and a linear
rho; the others change the encoder, the pooling or the readout."""

from __future__ import annotations

import inspect

import torch

from deepsets.core.models.base import SetModel, token_counts
from deepsets.core.models.embeddings import IMAGE_INPUTS
from deepsets.core.models.parts import ACTIVATIONS, PHIS, RHOS, choice, pool_spec


class DeepSets(SetModel):
    """A set model of three parts (Zaheer et al. 2017; handout task 3):
    ``rho(pool(phi(x) for x in X))``.

    phi is the embedding of an element followed by an encoder of ``parts.PHIS`` (the
    handout's: a linear layer to H and tanh, or ReLU as in handout question 1); the pooling
    of ``parts.POOLS`` makes the model permutation invariant (sum, mean, max, min, LAF, PMA,
    each of PyG's aggregations); rho is a readout of ``parts.RHOS`` (the handout's: linear).
    As in the handout, padding is not masked by default: in a sum, the pad token has its
    own embedding and adds ``phi(0)`` once per padding slot; the other poolings leave it
    out. With ``mask_padding`` the pad token adds nothing, as an absent element should.

    Two forwards compute the same function:
    - ``forward_each_element``: the handout's, phi of every element of every set, then the
      pooling of the features. Images take it (their 1,797 tokens make a table cost more
      than it saves), vectors too (a position the mask calls empty adds nothing), and
      every pooling without a token table; PyG's poolings read the real elements only,
      packed. On tokens phi sees only 11 distinct values, so each element's features are
      the rows of phi's table, computed once per vocabulary token (``element_phi``).
    - ``forward_token_table``: the pooling reads that table by each set's token counts
      (``parts.Pool.table``), with no element axis at all. Both give the values and
      gradients of phi on every element (tested against a plain DeepSets) at a fraction
      of the cost.

    Args:
        pooling: a name of ``parts.POOLS``, or ``pyg:package.module:ClassName``.
        phi, rho: names of ``parts.PHIS`` and ``parts.RHOS``.
        max_elements: the largest training set, for poolings built for a size (PyG's MLP,
            PNA's degree histogram).
        deform: MNIST: each training image deformed afresh (``mnist.deform``; the
            ``infimnist`` recipe); an argument of the checkpoint only when on.

    Shapes: tokens (B, N) or vectors (B, N, D) with a mask (B, N) -> (B,) or (B, K).
    """

    parallel_batches = False  # a batch is a few tiny operations; threads would wait on the GIL
    PARTS = ("phi", "pooling", "rho")  # the parts a name may give (``models.split_parts``)
    ACTIVATIONS = ACTIVATIONS

    def __init__(self, input_dim: int = 11, embedding_dim: int = 128, hidden_dim: int = 64,
                 activation: str = "tanh", mask_padding: bool = False,
                 pooling: str = "sum", inputs: str = "tokens", outputs: int = 1,
                 phi: str = "handout", rho: str = "linear", max_elements: int = 10,
                 deform: bool = False) -> None:
        encoder = choice(PHIS, "phi", phi)
        if encoder.pixels and inputs not in IMAGE_INPUTS:
            raise ValueError(f"phi={phi!r} reads an image's pixels; inputs={inputs!r} are "
                             "not images")
        super().__init__(input_dim, embedding_dim, hidden_dim, inputs, outputs,
                         raw_pixels=encoder.pixels, deform=deform)
        self.deform = deform
        choice(ACTIVATIONS, "activation", activation)
        self.spec = pool_spec(pooling)
        self.activation, self.mask_padding = activation, bool(mask_padding)
        self.parts = {"phi": phi, "pooling": pooling, "rho": rho}
        self.max_elements = max_elements
        width = self.embedding.width if encoder.pixels else embedding_dim  # E: pixels
        self.encoder = encoder.build(width, hidden_dim, activation)
        self.pool = self.spec.build(hidden_dim, max_elements)
        self.rho = choice(RHOS, "rho", rho).build(self.pool.width, hidden_dim, outputs)

    @property
    def pooling(self) -> str:
        return self.parts["pooling"]

    #: The names of the weights in a checkpoint written before the parts: phi's layer
    #: ``fc1``, rho ``fc2``, the LAF pooling ``laf``; a PyG model's aggregation ``pool``.
    RENAMED = {"fc1.": "encoder.0.", "fc2.": "rho.", "laf.": "pool.laf."}

    @classmethod
    def upgraded(cls, args: dict, weights: dict) -> tuple[dict, dict]:
        """A checkpoint's arguments and weights written before the model was made of parts
        (no ``phi`` among its arguments; PyG's models named their ``aggregation``), as
        today's: the same model. A checkpoint of today's comes back as it is."""
        if "phi" in args:
            return args, weights
        args, renamed = dict(args), dict(cls.RENAMED)
        if "aggregation" in args:  # a pyg-* model: PyG's aggregation and a tanh MLP rho
            name = args.pop("aggregation")
            args.update(pooling=f"pyg:{name}" if ":" in name else f"pyg-{name}",
                        rho="tanh-mlp")
            renamed["pool."] = "pool.aggregation."
        defaults = inspect.signature(cls).parameters  # what an older version built too
        args = {k: defaults[k].default for k in ("activation", "mask_padding", "pooling",
                                                 "phi", "rho", "max_elements")} | args

        def new(key: str) -> str:
            old = next((o for o in renamed if key.startswith(o)), None)
            return key if old is None else renamed[old] + key.removeprefix(old)
        return args, {new(key): value for key, value in weights.items()}

    @property
    def model_args(self) -> dict:
        return {**super().model_args, "activation": self.activation,
                "mask_padding": self.mask_padding, **self.parts,
                "max_elements": self.max_elements, **({"deform": True} if self.deform else {})}

    def not_applicable(self, size: int) -> str | None:
        """Why sets of ``size`` elements are beyond this model (its pooling's); else None."""
        check = getattr(self.pool, "not_applicable", None)
        return check(size) if check else None

    @property
    def differentiates(self) -> bool:
        """Whether the pooling takes gradients inside its forward (PyG's equilibrium's
        optimization), so that predicting needs autograd on (``evaluate.predict``)."""
        return getattr(getattr(self.pool, "entry", None), "pooled", None) == "alone"

    def phi(self, x: torch.Tensor) -> torch.Tensor:
        """The per-element network: tokens (...) or vectors (..., D) -> features (..., H)."""
        return self.encoder(self.embedding(x))

    def phi_table(self) -> torch.Tensor:
        """phi of every vocabulary token: (V, H); row 0 is zero when padding is masked."""
        table = self.encoder(self.embedding.weight)  # (V, E) -> (V, H)
        if self.mask_padding:
            table = torch.cat([torch.zeros_like(table[:1]), table[1:]])
        return table

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.inputs == "tokens" and self.spec.table:
            return self.forward_token_table(x)
        return self.forward_each_element(x, mask)

    def forward_each_element(self, x: torch.Tensor,
                             mask: torch.Tensor | None = None) -> torch.Tensor:
        """The handout's forward: phi on every element, then the pooling and rho."""
        if self.spec.packed:
            pooled = self.pool(*self.elements(x, mask), len(x))
        else:  # pad tokens are elements of a handout's sum; an empty vector position never
            pads = self.spec.pads and not self.mask_padding and self.inputs != "vectors"
            real = None if pads else self.real(x, mask)  # (B, N)
            pooled = self.pool(self.features(x, real), real)  # (B, N, H) -> (B, W)
        return self.readout(self.rho(pooled))  # (B, W) -> (B,)

    def element_phi(self, x: torch.Tensor) -> torch.Tensor:
        """phi of each element of ``x``: on tokens the rows of phi's table (``phi_table``,
        phi once per vocabulary token, whatever the pooling), else ``phi`` itself."""
        return self.phi_table()[x] if self.inputs == "tokens" else self.phi(x)

    def features(self, x: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        """phi of every position of ``x``, (B, N, H). On MNIST, whose phi reads 784 pixels
        an element, only the ``real`` ones are computed and the others are zero (the
        pooling masks them): a training batch of sets of 1..10 images is half padding."""
        if self.inputs != "mnist" or real is None or bool(real.all()):
            return self.element_phi(x)
        h = self.phi(x[real])  # (E, H)
        features = h.new_zeros(*real.shape, h.shape[-1])
        features[real] = h
        return features

    def elements(self, x: torch.Tensor, mask: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """The real elements' features (E, H) and the set each belongs to (E,), in order."""
        real = self.real(x, mask)  # (B, N)
        rows = torch.arange(len(x), device=x.device).unsqueeze(1).expand_as(real)[real]
        return self.element_phi(x[real]), rows

    def forward_token_table(self, x: torch.Tensor) -> torch.Tensor:
        """phi once per vocabulary token, pooled by each set's token counts."""
        table = self.phi_table()  # (V, H)
        counts = token_counts(x, self.input_dim, table.dtype)  # (B, N) -> (B, V)
        return self.readout(self.rho(self.pool.from_counts(counts, table)))  # (B,)
