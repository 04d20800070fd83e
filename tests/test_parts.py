"""A set model's parts, phi -> pooling -> rho, each from its table: every pooling with every
readout is invariant to padding and to order (where the pooling says it is), a named model
is its parts, and a model's other parts are named after it."""

import pytest
import torch
from helpers import expect_error, run_main
from oracle import PlainMAB

from deepsets.core.models import (
    PHIS,
    POOLS,
    RHOS,
    SPECS,
    DeepSets,
    build_model,
    parts_of,
    spec,
)

pytest.importorskip("torch_geometric")  # make test installs it (the pyg extra)

SMALL = {"input_dim": 11, "embedding_dim": 12, "hidden_dim": 8}
DIGITS = torch.tensor([[3, 5, 7, 7, 1, 9, 2], [4, 4, 4, 1, 10, 10, 6]])
ORDER = torch.tensor([4, 6, 0, 3, 1, 5, 2])


def parts_model(phi="handout", pooling="sum", rho="linear", **args) -> DeepSets:
    torch.manual_seed(0)
    sizes = {**SMALL, "embedding_dim": SMALL["hidden_dim"]} if phi == "embedding" else SMALL
    return DeepSets(**{**sizes, **args}, phi=phi, pooling=pooling, rho=rho).eval()


@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("pooling", POOLS)
def test_every_pooling_with_every_readout_ignores_padding_and_order(pooling, rho):
    model = parts_model("mlp", pooling, rho, mask_padding=True)
    padded = torch.cat([torch.zeros(2, 4, dtype=torch.long), DIGITS], dim=1)
    with torch.no_grad():
        plain = model(DIGITS)
        assert plain.shape == (2,) and torch.isfinite(plain).all()
        torch.testing.assert_close(model(padded), plain, rtol=1e-5, atol=1e-5)
        if not POOLS[pooling].ordered:
            torch.testing.assert_close(model(DIGITS[:, ORDER]), plain, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pooling", [p for p in POOLS if not POOLS[p].ordered])
def test_every_pooling_on_vectors_ignores_masked_positions_and_order(pooling):
    model = parts_model("mlp", pooling, "relu-mlp", input_dim=3, inputs="vectors", outputs=4)
    x = torch.randn(2, 6, 3)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    noise = x.clone()
    noise[1, 4:] = 1e3  # what a masked position holds must not matter
    with torch.no_grad():
        out = model(x, mask)
        assert out.shape == (2, 4)
        torch.testing.assert_close(model(noise, mask), out, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(model(x[1:, :4]), out[1:], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(model(x[:, [5, 2, 0, 4, 1, 3]])[0], out[0], rtol=1e-5,
                                   atol=1e-5)


def phi_on_every_element(model, x):
    """The plain DeepSets: ``model.phi`` (the embedding, then the encoder) on every position
    of the tokens ``x``, pooled and read out by the model's own parts."""
    real = x != 0
    h = model.phi(x)  # (B, N, H), one row per element
    if model.spec.packed:
        rows = torch.arange(len(x)).unsqueeze(1).expand_as(real)[real]
        pooled = model.pool(h[real], rows, len(x))
    else:
        pooled = model.pool(h, None if model.spec.pads and not model.mask_padding else real)
    return model.readout(model.rho(pooled))


def assert_same_function(model, outputs):
    """The same outputs and the same gradients for every weight."""
    torch.testing.assert_close(*outputs, rtol=1e-5, atol=1e-5)
    weights = [w for w in model.parameters() if w.requires_grad]
    first, second = (torch.autograd.grad(out.square().sum(), weights, allow_unused=True)
                     for out in outputs)
    for name, a, b in zip([n for n, w in model.named_parameters() if w.requires_grad],
                          first, second, strict=True):
        assert (a is None) == (b is None), name
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("pooling", POOLS)
def test_every_pooling_computes_phi_once_per_token_and_equals_phi_on_every_element(
        pooling, monkeypatch):
    """On tokens every pooling reads phi's table (phi once per vocabulary token): the
    outputs and gradients of phi on every element, and the encoder never sees more rows
    than the vocabulary."""
    model = parts_model("mlp", pooling, "relu-mlp")
    padded = torch.cat([torch.zeros(2, 3, dtype=torch.long), DIGITS], dim=1)
    reference = phi_on_every_element(model, padded)
    rows = []
    encoder = model.encoder.forward
    monkeypatch.setattr(model.encoder, "forward",
                        lambda e: rows.append(e.shape[:-1].numel()) or encoder(e))
    assert_same_function(model, [model.forward_each_element(padded), reference])
    assert rows == [model.input_dim]  # one table of the 11 tokens, not 2 x 10 positions


@pytest.mark.parametrize("pooling", [p for p in POOLS if POOLS[p].table])
@pytest.mark.parametrize("phi", [p for p in PHIS if not PHIS[p].pixels])  # tokens
def test_the_token_table_is_phi_on_every_element(pooling, phi):
    """The same outputs and the same gradients for every weight."""
    model = parts_model(phi, pooling, "relu-mlp")
    padded = torch.cat([torch.zeros(2, 3, dtype=torch.long), DIGITS], dim=1)
    assert_same_function(model, [model.forward_token_table(padded),
                                 phi_on_every_element(model, padded)])


@pytest.mark.parametrize("name", [n for n in SPECS if spec(n).cls is DeepSets])
def test_a_named_model_is_its_parts(name):
    """The same outputs on the same weights as DeepSets built from its parts; its parts
    name its pieces."""
    args = {**SMALL, **spec(name).args}
    torch.manual_seed(0)
    named = build_model(name, **SMALL)
    parts = parts_of(name)
    own = DeepSets(**{**args, **parts})
    own.load_state_dict(named.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(own(DIGITS), named(DIGITS))
    assert type(named.rho).__name__ == ("Linear" if parts["rho"] == "linear" else "Sequential")


def test_pygs_sum_is_our_sum():
    """PyG's SumAggregation on the packed elements against our sum of the padded features,
    on the same weights, with the padding masked."""
    ours = parts_model(pooling="sum", rho="tanh-mlp", mask_padding=True)
    pygs = parts_model(pooling="pyg-sum", rho="tanh-mlp")
    pygs.load_state_dict(ours.state_dict())
    padded = torch.cat([torch.zeros(2, 3, dtype=torch.long), DIGITS], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(pygs(padded), ours(padded), rtol=1e-5, atol=1e-5)


def test_pma_is_the_set_transformers_attention_of_one_seed():
    """PMA against attention through nn.MultiheadAttention (the test oracle's MAB)."""
    model = parts_model(pooling="pma", mask_padding=True)
    plain = PlainMAB(SMALL["hidden_dim"], 4)
    plain.load_state_dict(model.pool.mab.state_dict())
    x = torch.cat([torch.zeros(2, 3, dtype=torch.long), DIGITS], dim=1)
    with torch.no_grad():
        h = model.phi(x)  # (B, N, H)
        want = plain(model.pool.seed.expand(len(h), -1, -1), h, x == 0)[:, 0]
        torch.testing.assert_close(model.pool(h, x != 0), want, rtol=1e-5, atol=1e-5)


def test_min_and_max_pool_the_extremes():
    model = parts_model(pooling="min")
    with torch.no_grad():
        table = model.phi_table()
        want = model.rho(torch.minimum(table[3], table[9]))
        torch.testing.assert_close(model(torch.tensor([[0, 3, 9, 9]])), want)


@pytest.mark.parametrize(("name", "message"), [
    ("deepsets+rho=cubic", "rho 'cubic' is not one of linear, relu-mlp, tanh-mlp"),
    ("deepsets+rho=linear", "model deepsets has rho=linear already; name it deepsets"),
    ("deepsets+rho=relu-mlp+phi=mlp", "give its parts in the order phi, pooling, rho"),
    ("deepsets+head=mlp", "'head=mlp' is not a part"),
    ("lstm+phi=mlp", "model 'lstm' takes no phi: the deepsets-\\* and pyg-\\* models take "
                     "phi, pooling and rho, the recurrent ones rho"),
    ("set-transformer+rho=relu-mlp", "model 'set-transformer' takes no rho"),
])
def test_a_models_other_parts_are_checked(name, message):
    with pytest.raises(ValueError, match=message):
        spec(name)


def test_the_embedding_alone_needs_the_hidden_size():
    with pytest.raises(ValueError, match=r"needs embedding_dim == hidden_dim \(got 12 and 8\)"):
        DeepSets(**SMALL, phi="embedding", pooling="laf")


def test_other_parts_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert run_main(["compare", "--quick", "--tasks", "sum", "--seeds", "1", "--models",
                     "deepsets-max,deepsets-max+phi=mlp+rho=relu-mlp", "--n-train", "640",
                     "--n-per-card", "20", "--cards", "5,20", "--out", str(out)]) == 0
    rows = (out / "results.csv").read_text().splitlines()
    assert rows[0].startswith("task,model,phi,pooling,readout,seed,card")
    assert "sum,deepsets-max+phi=mlp+rho=relu-mlp,mlp,max,relu-mlp,0,5," in "\n".join(rows)
    assert "sum,deepsets-max,handout,max,linear,0,5," in "\n".join(rows)
    ckpt = torch.load(out / "sum-deepsets-max+phi=mlp+rho=relu-mlp-seed0" /
                      "deepsets-max+phi=mlp+rho=relu-mlp.pt", weights_only=True)
    assert {k: ckpt["model_args"][k] for k in ("phi", "pooling", "rho")} == {
        "phi": "mlp", "pooling": "max", "rho": "relu-mlp"}
    capsys.readouterr()
    expect_error(capsys, ["compare", "--models", "deepsets+rho=cubic", "--out", str(out)],
                 "rho 'cubic' is not one of linear, relu-mlp, tanh-mlp")


#: Checkpoints as the version before the parts wrote them (read off real ones): the weights'
#: names and the model arguments of deepsets-laf and of pyg-softmax.
OLD = {
    "deepsets-laf": (["embedding.weight", "fc1.weight", "fc1.bias", "laf.weights",
                      "fc2.weight", "fc2.bias"],
                     {"activation": "tanh", "mask_padding": False, "pooling": "laf"}),
    "pyg-softmax": (["embedding.weight", "fc1.weight", "fc1.bias", "pool.t", "rho.0.weight",
                     "rho.0.bias", "rho.2.weight", "rho.2.bias"],
                    {"aggregation": "softmax", "max_elements": 10}),
}


@pytest.mark.parametrize("name", OLD)
def test_a_checkpoint_from_before_the_parts_loads_as_the_same_model(name, tmp_path):
    from deepsets.core.runfolder import load_model

    model = build_model(name, **SMALL).eval()
    keys, args = OLD[name]
    weights = dict(zip(keys, model.state_dict().values(), strict=True))  # the same order
    base = {k: v for k, v in model.model_args.items() if k in SMALL or k in ("inputs",
                                                                              "outputs")}
    torch.save({"model": weights, "model_name": name, "model_args": {**base, **args},
                "epoch": 1}, tmp_path / "old.pt")
    loaded, state = load_model(tmp_path / "old.pt", name, model.model_args)
    assert state["model_args"] == model.model_args
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(DIGITS), model(DIGITS))
