import pytest
import torch
import torch.nn.functional as F
from oracle import handout_names, oracle_for

from deepsets import GRU, LSTM, DeepSets, build_model
from deepsets.core import kernels
from deepsets.core.models import check_tokens, token_counts


def sets(batch=8, n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 11, (batch, n), generator=g)


@pytest.mark.parametrize("cls", [DeepSets, LSTM])
@pytest.mark.parametrize("n", [1, 10, 37])
def test_shapes(cls, n):
    torch.manual_seed(0)
    model = cls(input_dim=11, embedding_dim=16, hidden_dim=8)
    out = model(sets(5, n))
    assert out.shape == (5,) and out.dtype == torch.float32


def test_handout_layers():
    m = DeepSets(input_dim=11, embedding_dim=128, hidden_dim=64)
    assert m.embedding.weight.shape == (11, 128)
    assert m.encoder[0].weight.shape == (64, 128) and m.rho.weight.shape == (1, 64)
    lstm = LSTM(input_dim=11, embedding_dim=128, hidden_dim=64)
    assert lstm.lstm.hidden_size == 64 and lstm.lstm.num_layers == 1
    assert lstm.fc.weight.shape == (1, 64)
    assert "embedding_dim=128" in repr(m)


def test_deepsets_is_permutation_invariant():
    torch.manual_seed(0)
    model = DeepSets(embedding_dim=16, hidden_dim=8)
    x = sets(16, 12)
    perm = torch.randperm(12)
    torch.testing.assert_close(model(x), model(x[:, perm]))


def test_lstm_is_not_permutation_invariant():
    torch.manual_seed(0)
    model = LSTM(embedding_dim=16, hidden_dim=8)
    x = sets(16, 12)
    out, flipped = model(x), model(x.flip(1))
    assert (out - flipped).abs().max() > 1e-3


def assert_same_function(model, x, y):
    """``model`` and its plain oracle: the same predictions and L1 gradients, to 1e-5 relative.

    Entries near zero are measured against the tensor's largest entry.
    """
    plain = oracle_for(model)
    fast, slow = model(x), plain(x)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5 * float(slow.detach().abs().max()))
    F.l1_loss(fast, y).backward()
    F.l1_loss(slow, y).backward()
    grads = dict(plain.named_parameters())
    for name, param in handout_names(dict(model.named_parameters())).items():
        want = grads[name].grad
        torch.testing.assert_close(param.grad, want, rtol=1e-5,
                                   atol=1e-5 * float(want.abs().max()), msg=name)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("mask_padding", [False, True])
@pytest.mark.parametrize("pooling", ["sum", "mean", "max"])
def test_deepsets_token_table_matches_the_plain_deepsets(activation, mask_padding, pooling):
    torch.manual_seed(0)
    model = DeepSets(activation=activation, mask_padding=mask_padding, pooling=pooling)
    x = padded_sets(64, 10)
    assert_same_function(model, x, torch.randint(0, 100, (64,)).float())


@pytest.mark.parametrize("cls", [LSTM, GRU])
@pytest.mark.parametrize("n", [1, 10, 37])
def test_recurrent_gate_table_matches_nn_rnn_on_embeddings(cls, n, lstm_path):
    torch.manual_seed(0)
    model = cls(embedding_dim=32, hidden_dim=16)
    assert_same_function(model, padded_sets(64, n, seed=n), torch.randint(0, 100, (64,)).float())


@pytest.fixture(params=["compiled", "fallback"])
def lstm_path(request, monkeypatch):
    """The LSTM's training step through the compiled operator, then through PyTorch's kernel
    (the fallback where the operator cannot be built)."""
    if request.param == "fallback":
        monkeypatch.setattr(kernels, "trains_lstm", lambda model, x: False)
    elif kernels.load() is None:
        pytest.skip(kernels.status())
    return request.param


@pytest.mark.parametrize("n", [1, 2, 10, 37])
def test_lstm_training_step_matches_nn_lstm_at_the_handouts_sizes(n, lstm_path):
    # every pad count 0..n-1, a set of padding only, and pad tokens inside a set
    torch.manual_seed(n)
    model = LSTM(embedding_dim=128, hidden_dim=64)
    x = padded_sets(64, n, seed=n)
    x[-1] = 0
    if n > 2:
        x[-2, n // 2] = 0
    assert_same_function(model, x, torch.randint(0, 100 * n, (64,)).float())


def test_lstm_training_step_is_as_close_to_float64_as_pytorchs_kernel(lstm_path):
    # the same model in float64 through nn.LSTM: the truth both float32 paths round
    torch.manual_seed(0)
    model = LSTM(embedding_dim=128, hidden_dim=64)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)  # saturating gates, as after training
    x, y = padded_sets(64, 10), torch.randint(0, 100, (64,)).float()
    exact = oracle_for(model).double()
    truth = exact(x)
    F.l1_loss(truth, y.double()).backward()
    out = model(x)
    F.l1_loss(out, y).backward()
    truth, out = truth.detach(), out.detach().double()
    assert float((out - truth).abs().max() / truth.abs().max()) < 2e-6
    grads = dict(exact.named_parameters())
    for name, param in handout_names(dict(model.named_parameters())).items():
        want = grads[name].grad
        assert float((param.grad.double() - want).abs().max() / want.abs().max()) < 2e-6, name


def test_lstm_step_keeps_the_order_of_the_rows_whatever_their_starts():
    # rows sorted by start inside the operator come back in their own order
    if kernels.load() is None:
        pytest.skip(kernels.status())
    torch.manual_seed(0)
    model = LSTM(embedding_dim=16, hidden_dim=8)
    x = padded_sets(64, 10)
    perm = torch.randperm(64)
    torch.testing.assert_close(model(x)[perm], model(x[perm]), rtol=0, atol=0)


def padded_sets(batch, n, seed=0):
    """Sets of 1..n digits left-padded to n, every pad count 0..n-1 present."""
    x = sets(batch, n, seed).clamp_min(1)
    pads = torch.arange(batch) % n  # (B,)
    return torch.where(torch.arange(n) < pads[:, None], 0, x)


def test_padded_sets_mix_every_pad_count():
    x = padded_sets(64, 10)
    assert sorted(set((x == 0).sum(1).tolist())) == list(range(10))
    assert ((x > 0).cumsum(1) > 0).sum(1).tolist() == (x > 0).sum(1).tolist()  # left padding


def test_inference_mode_gives_the_same_predictions():
    # evaluation runs without gradients: the same numbers as with them
    torch.manual_seed(0)
    for model in (DeepSets(embedding_dim=8, hidden_dim=4), LSTM(embedding_dim=8, hidden_dim=4)):
        x = sets(5, 300)
        with torch.inference_mode():
            fast = model(x)
        torch.testing.assert_close(fast, oracle_for(model)(x).detach(), rtol=1e-5, atol=1e-5)


def test_token_counts():
    counts = token_counts(torch.tensor([[0, 0, 4, 4, 10]]), 11)
    assert counts.tolist() == [[2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1]]


@pytest.mark.parametrize("x, message", [
    (torch.tensor([[11]]), "tokens must lie in 0..10"),
    (torch.tensor([[-1, 3]]), "got -1..3"),
    (torch.tensor([1, 2]), "2-D integer array"),
    (torch.tensor([[1.5]]), "torch.float32"),
])
def test_check_tokens(x, message):
    with pytest.raises(ValueError, match=message):
        check_tokens(x, 11)


def test_build_model():
    assert isinstance(build_model("lstm", input_dim=11, embedding_dim=4, hidden_dim=2), LSTM)
    with pytest.raises(ValueError, match="unknown model 'rnn'"):
        build_model("rnn")


def test_lstm_keeps_nn_lstm_parameter_names():
    names = [n for n, _ in LSTM().named_parameters()]
    assert names == ["embedding.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0",
                     "lstm.bias_ih_l0", "lstm.bias_hh_l0", "fc.weight", "fc.bias"]


ALL = ["deepsets", "deepsets-mean", "deepsets-max", "deepsets-laf", "lstm", "gru",
       "set-transformer"]


@pytest.mark.parametrize("name", ALL)
def test_every_model_shares_the_interface(name):
    torch.manual_seed(0)
    model = build_model(name, input_dim=11, embedding_dim=16, hidden_dim=8)
    for n in (1, 10, 33):
        assert model(sets(4, n)).shape == (4,)
    rebuilt = build_model(name, **model.model_args)
    rebuilt.load_state_dict(model.state_dict())  # checkpoints round-trip by name and args
    x = sets(4, 10)
    torch.testing.assert_close(rebuilt(x), model(x))


@pytest.mark.parametrize("name", ["deepsets-mean", "deepsets-max", "deepsets-laf",
                                  "set-transformer"])
def test_padding_and_order_do_not_matter(name):
    torch.manual_seed(0)
    model = build_model(name, input_dim=11, embedding_dim=16, hidden_dim=8).eval()
    x = torch.randint(1, 11, (16, 7))
    padded = torch.cat([torch.zeros(16, 5, dtype=torch.long), x], dim=1)
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(model(padded), out, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(model(x[:, torch.randperm(7)]), out, rtol=1e-5, atol=1e-5)


def test_laf_pooling_token_table_is_its_plain_path():
    """DeepSets with LAF pooling: phi once per token, pooled by token counts, against phi
    on every element: the same predictions and gradients."""
    torch.manual_seed(0)
    model = DeepSets(embedding_dim=16, hidden_dim=8, pooling="laf")
    x, y = padded_sets(32, 10), torch.randint(0, 100, (32,)).float()
    grads = []
    for forward in (model.forward_token_table, model.forward_each_element):
        model.zero_grad()
        out = forward(x)
        F.l1_loss(out, y).backward()
        grads.append((out.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (fast, fast_grads), (plain, plain_grads) = grads
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
    for name, want in plain_grads.items():
        torch.testing.assert_close(fast_grads[name], want, rtol=1e-4,
                                   atol=1e-5 * float(want.abs().max()), msg=name)


def test_mean_and_max_pooling_by_hand():
    model = DeepSets(embedding_dim=4, hidden_dim=3, pooling="max")
    table = model.phi_table().detach()
    out = model(torch.tensor([[0, 2, 7, 7]])).detach()
    expected = model.rho(torch.maximum(table[2], table[7])).detach()
    torch.testing.assert_close(out, expected)
    mean = DeepSets(embedding_dim=4, hidden_dim=3, pooling="mean")
    mean.load_state_dict(model.state_dict())  # the same weights, pooled by the mean
    expected = model.rho((table[2] + 2 * table[7]) / 3).detach()
    torch.testing.assert_close(mean(torch.tensor([[0, 2, 7, 7]])).detach(), expected)


@pytest.mark.parametrize("name", ALL)
def test_models_on_images(name):
    torch.manual_seed(0)
    model = build_model(name, input_dim=1798, embedding_dim=16, hidden_dim=8, inputs="images")
    x = torch.randint(0, 1798, (4, 10))
    out = model(x)
    assert out.shape == (4,) and torch.isfinite(out).all()
    out.sum().backward()
    assert model.embedding.mlp[0].weight.grad is not None  # phi learns on the pixels
    assert "pixels" not in model.state_dict()  # rebuilt from scikit-learn, not saved


@pytest.mark.parametrize("n", [1, 10, 23])
def test_set_transformer_matches_multihead_attention_on_every_row(n):
    from deepsets import SetTransformer

    torch.manual_seed(0)
    model = SetTransformer(embedding_dim=32, hidden_dim=16)
    assert_same_function(model, padded_sets(64, n, seed=n), torch.randint(0, 100, (64,)).float())


def test_attention_weights_are_a_softmax_over_the_kept_elements_only():
    """Kept scores far below a pad's (which would underflow a softmax shifted by the pad's
    score to 0 / 0) still give the softmax over the kept elements."""
    from deepsets.core.models import MAB

    torch.manual_seed(0)
    mab = MAB(dim=8, heads=2)
    with torch.no_grad():
        mab.att.out_proj.weight.copy_(torch.eye(8))
        mab.att.out_proj.bias.zero_()
    q = torch.full((3, 1, 8), 30.0)
    k = -torch.rand(3, 5, 8) * 30  # every kept score about -400 or lower
    k[:, 3:] = 0  # two pad keys, score 0
    v = torch.randn(3, 5, 8)
    keep = torch.tensor([1.0, 1, 1, 0, 0]).expand(3 * 2, 1, 5)
    out = mab.attend(q, k, v, keep)
    assert torch.isfinite(out).all()
    heads = [slice(0, 4), slice(4, 8)]
    for head in heads:  # the same, head by head, with torch.softmax over the three kept keys
        scores = q[..., head] @ k[:, :3, head].transpose(1, 2) / 2.0  # sqrt(4)
        torch.testing.assert_close(out[..., head], scores.softmax(-1) @ v[:, :3, head])
