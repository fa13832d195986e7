"""Public checks: run `python -m pytest tests` (or one task: `-m task3`).

They test shapes and one small numeric property per task. Passing them all is NOT the final
grade: hidden checks at grading time test the same tasks much more thoroughly.
"""

import math

import pytest
import torch
import torch.nn as nn

import rnn_lm

V, E, H, B, T = 11, 6, 8, 3, 5


def tokens(seed: int = 0, b: int = B, t: int = T) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, V, (b, t), generator=g)


def make(cls):
    torch.manual_seed(0)
    return cls(V, E, H)


class TinyGRULM(nn.Module):
    """A stand-in language model (a GRU) for checking Tasks 5 and 6 without your Tasks 1-2."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(V, E, padding_idx=0)
        self.gru = nn.GRU(E, H, batch_first=True)
        self.fc = nn.Linear(H, V)

    def forward(self, x, state=None):
        out, h = self.gru(self.emb(x), state)
        return self.fc(out), h


@pytest.mark.task1
def test_rnn_shapes_and_modules():
    model = make(rnn_lm.VanillaRNNLM)
    assert isinstance(model.rnn_cell, nn.RNNCell), "self.rnn_cell should be an nn.RNNCell"
    assert model.emb.padding_idx == 0, "the embedding should use padding_idx=pad_idx"
    logits, h = model(tokens())
    assert logits.shape == (B, T, V), f"logits should be (B, T, V) = {(B, T, V)}, got {tuple(logits.shape)}"
    assert h.shape == (B, H), f"the returned hidden state should be (B, H) = {(B, H)}, got {tuple(h.shape)}"


@pytest.mark.task1
def test_rnn_state_continues_the_sequence():
    model = make(rnn_lm.VanillaRNNLM)
    x = tokens()
    full, _ = model(x)
    first, h = model(x[:, :2])
    second, _ = model(x[:, 2:], h)
    assert torch.allclose(torch.cat([first, second], 1), full, atol=1e-5), \
        "running two halves, passing the hidden state on, should equal one pass over the whole sequence"


@pytest.mark.task2
def test_lstm_shapes_and_modules():
    model = make(rnn_lm.LSTMLM)
    assert isinstance(model.lstm, nn.LSTM) and model.lstm.batch_first, "self.lstm should be nn.LSTM(..., batch_first=True)"
    logits, (h, c) = model(tokens())
    assert logits.shape == (B, T, V), f"logits should be (B, T, V) = {(B, T, V)}, got {tuple(logits.shape)}"
    assert h.shape == c.shape == (1, B, H), "h_n and c_n should each be (1, B, H), as nn.LSTM returns them"


@pytest.mark.task2
def test_lstm_is_causal():
    model = make(rnn_lm.LSTMLM)
    x = tokens()
    changed = x.clone()
    changed[:, -1] = (changed[:, -1] % (V - 1)) + 1
    a, _ = model(x)
    b, _ = model(changed)
    assert torch.allclose(a[:, :-1], b[:, :-1]), "the logits at step t must not depend on inputs after t"


@pytest.mark.task3
def test_loss_of_uniform_logits_is_log_v():
    loss = rnn_lm.lm_loss(torch.zeros(B, T, V), tokens())
    assert loss.dim() == 0, "lm_loss should return a scalar"
    assert math.isclose(loss.item(), math.log(V), rel_tol=1e-5), "equal logits over V words should give a loss of ln V"


@pytest.mark.task3
def test_loss_ignores_padding():
    torch.manual_seed(0)
    logits, y = torch.randn(B, T, V), tokens()
    y[0, 3:] = 0
    a = rnn_lm.lm_loss(logits, y)
    logits2 = logits.clone()
    logits2[0, 3:] += 5 * torch.randn(T - 3, V)
    assert torch.isclose(a, rnn_lm.lm_loss(logits2, y)), "positions whose target is <pad> (0) must not change the loss"


@pytest.mark.task4
def test_evaluate_perplexity_of_uniform_model():
    class Uniform(nn.Module):
        def forward(self, x, state=None):
            return torch.zeros(*x.shape, V), None

    batches = [(tokens(1), tokens(2)), (tokens(3, b=1), tokens(4, b=1))]
    loss, ppl = rnn_lm.evaluate(Uniform(), batches)
    assert math.isclose(loss, math.log(V), rel_tol=1e-5), "a uniform model's mean loss is ln V"
    assert math.isclose(ppl, V, rel_tol=1e-4), "perplexity is exp(mean loss): V for a uniform model"


@pytest.mark.task4
def test_evaluate_builds_no_graph():
    model = make(rnn_lm.VanillaRNNLM)
    loss, ppl = rnn_lm.evaluate(model, [(tokens(1), tokens(2))])
    assert isinstance(loss, float) and isinstance(ppl, float), "evaluate should return two Python floats"
    assert all(p.grad is None for p in model.parameters()), "evaluate must not compute gradients"


@pytest.mark.task5
def test_grad_norm_recurrent():
    model = TinyGRULM()
    assert rnn_lm.l2_grad_norm_recurrent(model) == 0.0, "with no gradients yet, the norm should be 0.0"
    logits, _ = model(tokens())
    nn.functional.cross_entropy(logits.reshape(-1, V), tokens(1).reshape(-1)).backward()
    got = rnn_lm.l2_grad_norm_recurrent(model)
    assert isinstance(got, float), "return a Python float"
    assert math.isclose(got, model.gru.weight_hh_l0.grad.norm().item(), rel_tol=1e-5), \
        "here the only recurrent weight is gru.weight_hh_l0: the result should be the L2 norm of its gradient"


@pytest.mark.task5
def test_grad_norm_ignores_non_recurrent_weights():
    model = TinyGRULM()
    logits, _ = model(tokens())
    nn.functional.cross_entropy(logits.reshape(-1, V), tokens(1).reshape(-1)).backward()
    before = rnn_lm.l2_grad_norm_recurrent(model)
    model.gru.weight_ih_l0.grad *= 1000
    model.fc.weight.grad *= 1000
    assert math.isclose(rnn_lm.l2_grad_norm_recurrent(model), before, rel_tol=1e-6), \
        "only parameters whose name contains weight_hh count; input weights and the decoder do not"


@pytest.mark.task6
def test_gradient_through_time_uses_only_the_last_step_loss():
    model = TinyGRULM()
    x, y = tokens(), tokens(1)
    changed = y.clone()
    changed[:, :-1] = (changed[:, :-1] % (V - 1)) + 1
    a = rnn_lm.gradient_through_time(model, x, y)
    b = rnn_lm.gradient_through_time(model, x, changed)
    assert torch.allclose(a, b), "only the last step's loss L_T counts: earlier targets must not change the result"


@pytest.mark.task6
def test_gradient_through_time_shape_and_last_step():
    model = TinyGRULM()
    x, y = tokens(), tokens(1)
    g = rnn_lm.gradient_through_time(model, x, y)
    assert g.shape == (T,), f"one norm per distance k = 0..T-1: shape ({T},), got {tuple(g.shape)}"
    assert (g > 0).all(), "in a recurrent model every earlier input influences the last step, so every norm is positive"
    assert all(p.grad is None for p in model.parameters()), "it must not leave gradients in the parameters"
