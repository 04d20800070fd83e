import pytest
import torch

from deepsets import LSTM, DeepSets, build_model
from deepsets.models import check_tokens, token_counts


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
    assert m.fc1.weight.shape == (64, 128) and m.fc2.weight.shape == (1, 64)
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


def test_deepsets_matches_the_handout_forward_values_and_gradients():
    # the vocabulary-table forward against phi applied to every token
    torch.manual_seed(0)
    model = DeepSets()
    x = sets(64, 10)
    fast = model(x)
    grads_fast = torch.autograd.grad(fast.sum(), list(model.parameters()))
    plain = model.forward_per_token(x)
    grads_plain = torch.autograd.grad(plain.sum(), list(model.parameters()))
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
    for a, b in zip(grads_fast, grads_plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("mask_padding", [False, True])
def test_deepsets_closed_form_step_matches_autograd_on_the_handout_forward(activation,
                                                                          mask_padding):
    # the training step's loss and gradients against autograd through phi on every token
    torch.manual_seed(0)
    model = DeepSets(activation=activation, mask_padding=mask_padding)
    x, y = sets(64, 10), torch.randint(0, 100, (64,)).float()
    loss = torch.nn.functional.l1_loss(model.forward_per_token(x), y)
    plain = torch.autograd.grad(loss, list(model.parameters()))
    fast = model.l1_loss_backward(x, y)
    torch.testing.assert_close(fast, loss.detach(), rtol=1e-5, atol=0)
    assert not fast.requires_grad
    for (name, param), want in zip(model.named_parameters(), plain, strict=True):
        # 1e-5 relative, entries near zero measured against the tensor's largest
        scale = 1e-5 * float(want.abs().max())
        torch.testing.assert_close(param.grad, want, rtol=1e-5, atol=scale, msg=name)
    model.l1_loss_backward(x, y)  # a second call adds to .grad, as backward() does
    for param, want in zip(model.parameters(), plain, strict=True):
        scale = 1e-5 * float(want.abs().max())
        torch.testing.assert_close(param.grad, 2 * want, rtol=1e-5, atol=scale)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_other_poolings_step_through_autograd(pooling):
    torch.manual_seed(0)
    model = DeepSets(embedding_dim=8, hidden_dim=4, pooling=pooling)
    x, y = sets(16, 6), torch.rand(16)
    loss = model.l1_loss_backward(x, y)
    want = torch.autograd.grad(torch.nn.functional.l1_loss(model.forward_per_token(x), y),
                               list(model.parameters()))
    torch.testing.assert_close(loss, torch.nn.functional.l1_loss(model(x), y).detach())
    for param, grad in zip(model.parameters(), want, strict=True):
        torch.testing.assert_close(param.grad, grad, rtol=1e-5, atol=1e-6)


def test_deepsets_equals_independent_reference():
    torch.manual_seed(1)
    m = DeepSets(embedding_dim=4, hidden_dim=3)
    x = torch.tensor([[0, 3, 3, 7]])
    e = m.embedding.weight
    ref = sum(torch.tanh(m.fc1.weight @ e[t] + m.fc1.bias) for t in [0, 3, 3, 7])
    ref = m.fc2.weight @ ref + m.fc2.bias
    torch.testing.assert_close(m(x), ref)


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


@pytest.mark.parametrize("n", [1, 10, 37])
def test_table_lstm_matches_nn_lstm_values_and_gradients(n):
    torch.manual_seed(0)
    model = LSTM(embedding_dim=32, hidden_dim=16)
    x = sets(64, n, seed=n)
    fast = model(x)
    grads_fast = torch.autograd.grad(fast.square().sum(), list(model.parameters()))
    plain = model.forward_nn(x)
    grads_plain = torch.autograd.grad(plain.square().sum(), list(model.parameters()))
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    for (name, _), a, b in zip(model.named_parameters(), grads_fast, grads_plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=name)


def test_table_lstm_without_gradients_matches():
    torch.manual_seed(0)
    model = LSTM(embedding_dim=8, hidden_dim=4)
    x = sets(5, 300)
    with torch.inference_mode():
        fast, plain = model(x), model.forward_nn(x)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)


def test_lstm_keeps_nn_lstm_parameter_names():
    names = [n for n, _ in LSTM().named_parameters()]
    assert names == ["embedding.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0",
                     "lstm.bias_ih_l0", "lstm.bias_hh_l0", "fc.weight", "fc.bias"]


ALL = ["deepsets", "deepsets-mean", "deepsets-max", "lstm", "gru", "set-transformer"]


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


@pytest.mark.parametrize("name", ["deepsets-mean", "deepsets-max", "set-transformer"])
def test_padding_and_order_do_not_matter(name):
    torch.manual_seed(0)
    model = build_model(name, input_dim=11, embedding_dim=16, hidden_dim=8).eval()
    x = torch.randint(1, 11, (16, 7))
    padded = torch.cat([torch.zeros(16, 5, dtype=torch.long), x], dim=1)
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(model(padded), out, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(model(x[:, torch.randperm(7)]), out, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_pooling_matches_per_token_form(pooling):
    torch.manual_seed(0)
    model = DeepSets(embedding_dim=16, hidden_dim=8, pooling=pooling)
    x = sets(32, 12)
    x[:, -1] = 3  # every set holds a digit
    fast, plain = model(x), model.forward_per_token(x)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    grads = [torch.autograd.grad(out.sum(), list(model.parameters())) for out in (fast, plain)]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_mean_and_max_pooling_by_hand():
    model = DeepSets(embedding_dim=4, hidden_dim=3, pooling="max")
    table = model.phi_table().detach()
    out = model(torch.tensor([[0, 2, 7, 7]])).detach()
    expected = model.fc2(torch.maximum(table[2], table[7])).detach()
    torch.testing.assert_close(out, expected)
    model.pooling = "mean"
    expected = model.fc2((table[2] + 2 * table[7]) / 3).detach()
    torch.testing.assert_close(model(torch.tensor([[0, 2, 7, 7]])).detach(), expected)


def test_gru_matches_nn_gru_values_and_gradients():
    from deepsets.models import GRU

    torch.manual_seed(0)
    model = GRU(embedding_dim=16, hidden_dim=8)
    x = sets(32, 10)
    fast, plain = model(x), model.forward_nn(x)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    grads = [torch.autograd.grad(out.square().sum(), list(model.parameters()))
             for out in (fast, plain)]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


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
