"""Public checks: run `python -m pytest tests` (or one task: `-m task3`).

They test shapes and the central idea of each task. Passing them all is NOT the final grade:
hidden checks at grading time test the same tasks much more thoroughly.

Each task is checked on its own: Tasks 4-6 run on small stand-in models defined here, not on
your Tasks 1-2, and Tasks 4 and 6 with a stand-in for your `lm_loss` (Task 3), as the hidden
checks do.
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


def normalised(logits: torch.Tensor) -> bool:
    """Whether the logits look like probabilities or log-probabilities: a softmax was applied."""
    one = torch.ones(logits.shape[:-1])
    return torch.allclose(logits.sum(-1), one) or torch.allclose(logits.exp().sum(-1), one)


def continues_the_sequence(model) -> bool:
    """Whether two halves, the returned state passed on, give the logits of one whole pass."""
    x = tokens()
    full, _ = model(x)
    first, state = model(x[:, :2])
    second, _ = model(x[:, 2:], state)
    return torch.allclose(torch.cat([first, second], 1), full, atol=1e-5)


UNNORMALISED = "return unnormalised logits (no softmax or log_softmax): the loss normalises them"


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
    assert model.rnn_cell.nonlinearity == "tanh", "the RNN cell should use tanh"
    assert model.emb.padding_idx == 0, "the embedding should use padding_idx=pad_idx"
    logits, h = model(tokens())
    assert logits.shape == (B, T, V), f"logits should be (B, T, V) = {(B, T, V)}, got {tuple(logits.shape)}"
    assert not normalised(logits), UNNORMALISED
    assert h.shape == (B, H), f"the returned hidden state should be (B, H) = {(B, H)}, got {tuple(h.shape)}"


@pytest.mark.task1
def test_rnn_runs_on_the_device_of_its_inputs():
    """On a GPU (Colab) the batches live there: PyTorch's "meta" device stands in for one here."""
    model = make(rnn_lm.VanillaRNNLM).to("meta")
    try:
        logits, h = model(tokens().to("meta"))
    except RuntimeError as err:
        raise AssertionError(f"{err}: create new tensors next to existing float ones (e.new_zeros(B, H) with e "
                             "the embeddings, or torch.zeros(B, H, device=x.device)), never on a fixed device") from None
    assert logits.device.type == "meta" and h.device.type == "meta"


@pytest.mark.task1
def test_rnn_state_continues_the_sequence():
    model = make(rnn_lm.VanillaRNNLM)
    assert continues_the_sequence(model), \
        "running two halves, passing the hidden state on, should equal one pass over the whole sequence"


@pytest.mark.task1
def test_rnn_carries_its_state_through_time():
    model = make(rnn_lm.VanillaRNNLM)
    x = tokens()
    changed = x.clone()
    changed[:, 0] = (changed[:, 0] % (V - 1)) + 1
    a, _ = model(x)
    b, _ = model(changed)
    assert not torch.allclose(a[:, -1], b[:, -1]), \
        "the first input should change the last step's logits: carry the hidden state from step to step"


@pytest.mark.task2
def test_lstm_shapes_and_modules():
    model = make(rnn_lm.LSTMLM)
    assert isinstance(model.lstm, nn.LSTM) and model.lstm.batch_first, "self.lstm should be nn.LSTM(..., batch_first=True)"
    logits, (h, c) = model(tokens())
    assert logits.shape == (B, T, V), f"logits should be (B, T, V) = {(B, T, V)}, got {tuple(logits.shape)}"
    assert not normalised(logits), UNNORMALISED
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


@pytest.mark.task2
def test_lstm_state_continues_the_sequence():
    model = make(rnn_lm.LSTMLM)
    assert continues_the_sequence(model), \
        "running two halves, passing the state (h_n, c_n) on, should equal one pass over the whole sequence"


@pytest.mark.task3
def test_loss_of_uniform_and_of_confident_logits():
    loss = rnn_lm.lm_loss(torch.zeros(B, T, V), tokens())
    assert loss.dim() == 0, "lm_loss should return a scalar"
    assert math.isclose(loss.item(), math.log(V), rel_tol=1e-5), "equal logits over V words should give a loss of ln V"
    y = tokens()
    sure = 30 * nn.functional.one_hot(y, V).float()  # a logit of 30 on every target
    assert rnn_lm.lm_loss(sure, y).item() < 1e-6, \
        "logits sure of every target should give a loss near 0 (the logits are unnormalised scores: no softmax first)"


@pytest.mark.task3
def test_loss_averages_over_non_pad_targets_only():
    y = tokens()
    y[0, 2:] = 0
    n = int((y != 0).sum())
    mean = rnn_lm.lm_loss(torch.zeros(B, T, V), y)
    total = rnn_lm.lm_loss(torch.zeros(B, T, V), y, reduction="sum")
    assert math.isclose(mean.item(), math.log(V), rel_tol=1e-5), \
        f"the mean is over the {n} non-pad targets only, not over all {B * T} positions"
    assert math.isclose(total.item(), n * math.log(V), rel_tol=1e-5), \
        f"reduction='sum' adds up the losses of the {n} non-pad targets"


@pytest.mark.task3
def test_loss_ignores_padding():
    torch.manual_seed(0)
    logits, y = torch.randn(B, T, V), tokens()
    y[0, 3:] = 0
    a = rnn_lm.lm_loss(logits, y)
    logits2 = logits.clone()
    logits2[0, 3:] += 5 * torch.randn(T - 3, V)
    assert torch.isclose(a, rnn_lm.lm_loss(logits2, y)), "positions whose target is <pad> (0) must not change the loss"


@pytest.mark.task3
def test_loss_with_pytorchs_pad_id_minus_100():
    """Pads are not always a token id: PyTorch (and Hugging Face) mark them -100."""
    y = tokens()
    y[0, 2:] = -100
    loss = rnn_lm.lm_loss(torch.zeros(B, T, V), y, ignore_index=-100)
    assert math.isclose(loss.item(), math.log(V), rel_tol=1e-5), \
        "with ignore_index=-100 the targets -100 are padding (a gather on them fails: mask them first)"


C = 3.0  # CopyLM's logit for the token it predicts
COPY_MISS = math.log(math.exp(C) + V - 1)  # CopyLM's cross-entropy where the target is another token
COPY_HIT = COPY_MISS - C  # ...and where the target is the token it predicts


class CopyLM(nn.Module):
    """A stand-in language model for Task 4: it predicts that the next token repeats the current
    one (logit C there, 0 elsewhere), and records how it was called."""

    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(C * torch.eye(V))
        self.calls = []

    def forward(self, x, state=None):
        self.calls.append({"grad_enabled": torch.is_grad_enabled(), "training": self.training})
        return self.table[x], None


def copy_lm_loss(logits, targets, ignore_index=0, reduction="mean"):
    """Stands in for your lm_loss in Task 4's checks: the cross-entropy of CopyLM's logits (of no
    others), COPY_HIT where the target is the predicted token and COPY_MISS elsewhere."""
    losses = torch.where(logits.argmax(-1) == targets, COPY_HIT, COPY_MISS)
    keep = targets != ignore_index
    total = (losses * keep).sum()
    return total if reduction == "sum" else total / keep.sum()


def uneven_batches():
    """A big batch CopyLM predicts perfectly and a small, mostly padded one it gets all wrong."""
    x1 = tokens(1, b=4)
    x2 = tokens(2, b=1)
    y2 = x2 % (V - 1) + 1  # never the input token: every target a miss
    y2[0, 2:] = 0  # padding: 2 targets left
    return [(x1, x1.clone()), (x2, y2)]


@pytest.mark.task4
def test_evaluate_weights_every_target_equally(monkeypatch):
    monkeypatch.setattr(rnn_lm, "lm_loss", copy_lm_loss)
    loss, ppl = rnn_lm.evaluate(CopyLM(), uneven_batches())
    assert isinstance(loss, float) and isinstance(ppl, float), "evaluate should return two Python floats"
    hits, misses = 4 * T, 2
    want = (hits * COPY_HIT + misses * COPY_MISS) / (hits + misses)
    per_batch = (COPY_HIT + COPY_MISS) / 2
    hint = " (that is the average of the per-batch means: weigh every target, not every batch)" \
        if math.isclose(loss, per_batch, rel_tol=1e-4) else ""
    assert math.isclose(loss, want, rel_tol=1e-5), \
        f"mean loss {loss:.4f}, expected {want:.4f}: the total loss over all non-pad targets / their number{hint}"
    assert math.isclose(ppl, math.exp(want), rel_tol=1e-5), "perplexity is exp(mean loss)"


@pytest.mark.task4
@pytest.mark.parametrize("training", [True, False], ids=["train_mode", "eval_mode"])
def test_evaluate_runs_without_gradients_and_leaves_the_model_as_it_was(monkeypatch, training):
    monkeypatch.setattr(rnn_lm, "lm_loss", copy_lm_loss)
    model = CopyLM().train(training)
    model.table.grad = torch.full_like(model.table, 0.25)
    weights = model.table.detach().clone()
    rnn_lm.evaluate(model, uneven_batches())
    assert model.calls, "evaluate never called the model"
    assert not any(c["grad_enabled"] for c in model.calls), \
        "the model ran with gradients enabled, building an autograd graph: evaluate under torch.no_grad()"
    assert model.training is training, \
        f"evaluate should leave the model in {'train' if training else 'eval'} mode, as it found it"
    assert torch.equal(model.table.detach(), weights), "evaluate must not change the parameters"
    assert (model.table.grad == 0.25).all(), "evaluate must not change the parameters' .grad"


@pytest.mark.task4
def test_evaluate_leaves_each_submodule_in_its_own_mode(monkeypatch):
    """A model in train mode with a submodule the caller keeps in eval mode (a frozen embedding, say)."""
    monkeypatch.setattr(rnn_lm, "lm_loss", copy_lm_loss)
    model = CopyLM().train()
    model.kept_in_eval = torch.nn.Identity().eval()
    rnn_lm.evaluate(model, uneven_batches())
    assert model.training and not model.kept_in_eval.training, (
        f"after evaluate the model is in {'train' if model.training else 'eval'} mode and its submodule in "
        f"{'train' if model.kept_in_eval.training else 'eval'} mode; before, train and eval: put each module's own "
        "mode back (model.train(was_training) gives every submodule the model's mode)")


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


@pytest.mark.task5
def test_grad_norm_is_one_norm_over_all_recurrent_weights():
    torch.manual_seed(0)
    gru = nn.GRU(E, H, num_layers=2)  # two recurrent weights: weight_hh_l0 and weight_hh_l1
    out, _ = gru(torch.randn(T, B, E))
    out.pow(2).sum().backward()
    want = math.hypot(gru.weight_hh_l0.grad.norm().item(), gru.weight_hh_l1.grad.norm().item())
    assert math.isclose(rnn_lm.l2_grad_norm_recurrent(gru), want, rel_tol=1e-5), \
        "with several recurrent weights, take one norm over all their entries together (the square root of " \
        "the sum of all squares), not the sum of the per-weight norms"


def smooth_lm_loss(logits, targets, ignore_index=0, reduction="mean"):
    """Stands in for your lm_loss in these public tests of Task 6: a smooth function of the logits
    and the targets (each non-pad position weighed by its target id). No cross-entropy: these tests
    check only where the gradient goes. (The hidden checks of Task 6 use a correct cross-entropy
    ``lm_loss`` of their own instead, as its docstring says.)"""
    keep = targets != ignore_index
    total = (logits.pow(2).mean(-1) * targets * keep).sum()
    return total if reduction == "sum" else total / keep.sum()


class NoMemoryLM(nn.Module):
    """A stand-in with no recurrence: the logits at step t depend on the input at step t alone."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(V, E, padding_idx=0)
        self.fc = nn.Linear(E, V)

    def forward(self, x, state=None):
        return self.fc(torch.tanh(self.emb(x))), None


@pytest.fixture
def stand_in_loss(monkeypatch):
    monkeypatch.setattr(rnn_lm, "lm_loss", smooth_lm_loss)


@pytest.mark.task6
def test_gradient_through_time_uses_only_the_last_step_loss(stand_in_loss):
    model = TinyGRULM()
    x, y = tokens(), tokens(1)
    changed = y.clone()
    changed[:, :-1] = (changed[:, :-1] % (V - 1)) + 1
    a = rnn_lm.gradient_through_time(model, x, y)
    b = rnn_lm.gradient_through_time(model, x, changed)
    assert torch.allclose(a, b), "only the last step's loss L_T counts: earlier targets must not change the result"


@pytest.mark.task6
def test_gradient_through_time_shape_and_last_step(stand_in_loss):
    model = TinyGRULM()
    x, y = tokens(), tokens(1)
    g = rnn_lm.gradient_through_time(model, x, y)
    assert g.shape == (T,), f"one norm per distance k = 0..T-1: shape ({T},), got {tuple(g.shape)}"
    assert (g > 0).all(), "in a recurrent model every earlier input influences the last step, so every norm is positive"
    assert all(p.grad is None for p in model.parameters()), "it must not leave gradients in the parameters"


@pytest.mark.task6
def test_gradient_through_time_counts_back_from_the_last_step(stand_in_loss):
    g = rnn_lm.gradient_through_time(NoMemoryLM(), tokens(), tokens(1))
    assert g.shape == (T,), f"one norm per distance k = 0..T-1: shape ({T},), got {tuple(g.shape)}"
    assert g[0] > 0 and (g[1:] == 0).all(), (
        f"got {g.tolist()} from a model without memory, where the last output depends on the last input only: "
        "g[0] must be the last step's own input (k = 0) and g[k] the input k steps before it, so only g[0] is "
        "non-zero. Norms in time order need reversing.")
