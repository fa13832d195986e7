"""Hidden checks for the RNN-vs-LSTM lab. Never shipped to students.

Every check takes the submission's namespace (the globals of its ``rnn_lm.py``, or of the
executed notebook under otter) and raises ``AssertionError`` with feedback when it fails.
References are computed by trusted code: float64 NumPy for forward passes and losses, a float64
re-implementation in plain tensor operations for gradients, always from the submission's own
weights. Before and after each check, the functions the checks rely on are verified to be the
libraries' own (a submission that replaces ``torch.allclose`` gets no points, with a message).

Used three ways: otter test files generated from ``CHECKS`` (``rnnlab release``), the batch
grader ``rnnlab grade``, and the project's own pytest suite.
"""

from __future__ import annotations

import builtins
import math
import os
import types
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

# ----------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    task: int
    name: str
    description: str
    func: Callable[[dict], None]


CHECKS: dict[str, Check] = {}
TRUSTED_LOSS_TASKS = {4, 6}  # their checks run with the trusted lm_loss, so a Task 3 bug costs Task 3 only


def check(task: int, description: str):
    def register(func):
        name = func.__name__
        CHECKS[name] = Check(task, name, description, func)
        return func
    return register


def checks_for_task(task: int) -> list[Check]:
    return [c for c in CHECKS.values() if c.task == task]


# Hypothesis: fixed, database-free, the same examples on every run and machine.
# No explain phase: it would point students at lines of this file.
HYPOTHESIS = settings(max_examples=12, deadline=None, database=None, derandomize=True, print_blob=False,
                      suppress_health_check=list(HealthCheck),
                      phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])

# ----------------------------------------------------------------------------
# Tamper detection
# ----------------------------------------------------------------------------

_ROOTS = tuple(os.path.dirname(m.__file__) for m in (torch, np, os)) + (os.path.dirname(os.path.abspath(__file__)),)
_NATIVE_TYPES = (types.BuiltinFunctionType, types.BuiltinMethodType, types.MethodDescriptorType,
                 types.WrapperDescriptorType, types.MethodWrapperType, types.ClassMethodDescriptorType,
                 types.GetSetDescriptorType, types.MemberDescriptorType, np.ufunc)
GUARDED = {
    builtins: "abs all any bool callable dict enumerate float getattr hasattr int isinstance issubclass len list max "
              "min range repr round set sorted str sum tuple type zip".split(),
    math: "exp log sqrt isclose isfinite fsum".split(),
    torch: "allclose equal isclose manual_seed randn rand randint tensor as_tensor zeros ones stack cat exp log "
           "tanh sigmoid matmul no_grad is_grad_enabled set_grad_enabled enable_grad isfinite".split(),
    torch.Tensor: "allclose equal __eq__ __ne__ __sub__ __add__ __mul__ __matmul__ __getitem__ abs max sum item "
                  "backward double float numpy detach clone tolist isfinite all any norm size dim reshape".split(),
    torch.autograd: ["grad"],
    F: "cross_entropy log_softmax nll_loss".split(),
    nn.Module: "__call__ parameters named_parameters zero_grad train eval state_dict".split(),
    np: "allclose isclose abs max exp log tanh asarray array zeros dot matmul".split(),
}
_PRISTINE = {(id(owner), name): getattr(owner, name) for owner, names in GUARDED.items() for name in names}


def _owner_name(owner) -> str:
    return getattr(owner, "__name__", str(owner))


def _is_native(obj) -> bool:
    if isinstance(obj, _NATIVE_TYPES) or isinstance(obj, type):
        return True
    if type(obj).__name__ == "_ArrayFunctionDispatcher" and type(obj).__module__ == "numpy":
        return True
    func = getattr(obj, "__func__", obj)
    code = getattr(func, "__code__", None)
    return code is not None and os.path.abspath(code.co_filename).startswith(_ROOTS)


def _same_function(current, pristine) -> bool:
    """The pristine function, or a library's own wrapper of it (torch._dynamo wraps torch.manual_seed on import)."""
    while current is not pristine and hasattr(current, "__wrapped__"):
        current = current.__wrapped__
    return current is pristine


def tampering() -> list[str]:
    """Names of library functions the checks rely on that have been replaced."""
    found = []
    for owner, names in GUARDED.items():
        for name in names:
            current = getattr(owner, name, None)
            if not (_is_native(current) and _same_function(current, _PRISTINE[(id(owner), name)])):
                found.append(f"{_owner_name(owner)}.{name}")
    return found


class TamperingDetected(AssertionError):
    pass


def assert_untampered(when: str) -> None:
    replaced = tampering()
    if replaced:
        raise TamperingDetected(
            f"{when}, these library functions were replaced: {', '.join(replaced)}. The grader cannot trust any "
            "result in an interpreter where PyTorch, NumPy or Python built-ins are patched, so this check earns no "
            "points. Remove the code that reassigns them.")


# ----------------------------------------------------------------------------
# Running a check
# ----------------------------------------------------------------------------

def _describe(err: BaseException) -> str:
    notes = getattr(err, "__notes__", [])
    msg = str(err).strip() or type(err).__name__
    if not isinstance(err, AssertionError):
        msg = f"{type(err).__name__}: {msg}"
    return "\n".join([msg, *notes])


def run_check(name: str, namespace: dict) -> tuple[bool, str]:
    """Run one check; return (passed, feedback)."""
    chk = CHECKS[name]
    saved_loss = namespace.get("lm_loss")
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread is fastest, and parallel graders share the cores
    try:
        assert_untampered("Before this check")
        torch.manual_seed(0)
        np.random.seed(0)
        if chk.task in TRUSTED_LOSS_TASKS:
            namespace["lm_loss"] = trusted_lm_loss
        with torch.random.fork_rng(devices=[]):
            chk.func(namespace)
        assert_untampered("After this check")
    except NotImplementedError as err:
        return False, f"{chk.description}: not implemented ({err})."
    except TamperingDetected as err:
        return False, str(err)
    except Exception as err:  # noqa: BLE001 - every failure becomes feedback
        return False, f"{chk.description}: FAILED.\n{_describe(err)}"
    finally:
        torch.set_num_threads(saved_threads)
        if chk.task in TRUSTED_LOSS_TASKS:
            namespace["lm_loss"] = saved_loss
    return True, f"{chk.description}: passed."


def run_all(namespace: dict) -> dict[str, tuple[bool, str]]:
    return {name: run_check(name, namespace) for name in CHECKS}


# ----------------------------------------------------------------------------
# Trusted references
# ----------------------------------------------------------------------------

def np64(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy()


def ref_log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def ref_nll(logits: np.ndarray, targets: np.ndarray, ignore_index: int) -> tuple[float, int]:
    """(summed NLL over non-ignored targets, their count)."""
    logp = ref_log_softmax(logits.reshape(-1, logits.shape[-1]))
    t = targets.reshape(-1)
    keep = t != ignore_index
    return float(-logp[np.arange(len(t))[keep], t[keep]].sum()), int(keep.sum())


def trusted_lm_loss(logits, targets, ignore_index: int = 0, reduction: str = "mean"):
    V = logits.size(-1)
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=ignore_index, reduction=reduction)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def ref_rnn(model, x: np.ndarray, h0: np.ndarray | None):
    """float64 NumPy forward of a VanillaRNNLM from its own weights: (logits, h_T)."""
    cell = model.rnn_cell
    E = np64(model.emb.weight)[x]  # (B, T, E)
    W_ih, W_hh, b = np64(cell.weight_ih), np64(cell.weight_hh), np64(cell.bias_ih) + np64(cell.bias_hh)
    h = np.zeros((x.shape[0], W_hh.shape[0])) if h0 is None else h0
    hs = []
    for t in range(x.shape[1]):
        h = np.tanh(E[:, t] @ W_ih.T + h @ W_hh.T + b)
        hs.append(h)
    return np.stack(hs, 1) @ np64(model.fc.weight).T + np64(model.fc.bias), h


def ref_lstm(model, x: np.ndarray, state):
    """float64 NumPy forward of an LSTMLM: (logits, h_T, c_T)."""
    lstm = model.lstm
    E = np64(model.emb.weight)[x]
    W_ih, W_hh = np64(lstm.weight_ih_l0), np64(lstm.weight_hh_l0)
    b = np64(lstm.bias_ih_l0) + np64(lstm.bias_hh_l0)
    H = W_hh.shape[1]
    if state is None:
        h = c = np.zeros((x.shape[0], H))
    else:
        h, c = state
    hs = []
    for t in range(x.shape[1]):
        z = E[:, t] @ W_ih.T + h @ W_hh.T + b
        i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    return np.stack(hs, 1) @ np64(model.fc.weight).T + np64(model.fc.bias), h, c


def torch_ref_rnn(p: dict, x: torch.Tensor, h0):
    """float64 autograd reference of the RNN from a dict of parameter tensors."""
    e = p["emb"][x]
    h = torch.zeros(x.shape[0], p["W_hh"].shape[0], dtype=torch.float64) if h0 is None else h0
    hs = []
    for t in range(x.shape[1]):
        h = torch.tanh(e[:, t] @ p["W_ih"].T + p["b_ih"] + h @ p["W_hh"].T + p["b_hh"])
        hs.append(h)
    return torch.stack(hs, 1) @ p["W_fc"].T + p["b_fc"], h


def torch_ref_lstm(p: dict, x: torch.Tensor, state):
    e = p["emb"][x]
    H = p["W_hh"].shape[1]
    if state is None:
        h = c = torch.zeros(x.shape[0], H, dtype=torch.float64)
    else:
        h, c = state
    hs = []
    for t in range(x.shape[1]):
        z = e[:, t] @ p["W_ih"].T + p["b_ih"] + h @ p["W_hh"].T + p["b_hh"]
        i, f, g, o = z.split(H, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        hs.append(h)
    return torch.stack(hs, 1) @ p["W_fc"].T + p["b_fc"], h, c


def rnn_params(model) -> dict:
    c = model.rnn_cell
    return {"emb": model.emb.weight, "W_ih": c.weight_ih, "W_hh": c.weight_hh, "b_ih": c.bias_ih,
            "b_hh": c.bias_hh, "W_fc": model.fc.weight, "b_fc": model.fc.bias}


def lstm_params(model) -> dict:
    m = model.lstm
    return {"emb": model.emb.weight, "W_ih": m.weight_ih_l0, "W_hh": m.weight_hh_l0, "b_ih": m.bias_ih_l0,
            "b_hh": m.bias_hh_l0, "W_fc": model.fc.weight, "b_fc": model.fc.bias}


class TrustedRNN(nn.Module):
    """Reference models for checks that must not depend on the student's Tasks 1-2."""

    def __init__(self, V, E, H, pad_idx=0):
        super().__init__()
        self.emb = nn.Embedding(V, E, padding_idx=pad_idx)
        self.rnn_cell = nn.RNNCell(E, H)
        self.fc = nn.Linear(H, V)

    def forward(self, x, h0=None):
        e = self.emb(x)
        h = e.new_zeros(x.shape[0], self.rnn_cell.hidden_size) if h0 is None else h0
        hs = []
        for t in range(x.shape[1]):
            h = self.rnn_cell(e[:, t], h)
            hs.append(h)
        return self.fc(torch.stack(hs, 1)), h


class TrustedLSTM(nn.Module):
    def __init__(self, V, E, H, pad_idx=0):
        super().__init__()
        self.emb = nn.Embedding(V, E, padding_idx=pad_idx)
        self.lstm = nn.LSTM(E, H, batch_first=True)
        self.fc = nn.Linear(H, V)

    def forward(self, x, state=None):
        out, state = self.lstm(self.emb(x), state)
        return self.fc(out), state


def trusted_gradient_through_time(model, x, y, pad_id=0) -> torch.Tensor:
    captured = []
    handle = model.emb.register_forward_hook(lambda m, i, o: captured.append(o))
    try:
        logits, _ = model(x)
    finally:
        handle.remove()
    loss = trusted_lm_loss(logits[:, -1:], y[:, -1:], ignore_index=pad_id)
    (g,) = torch.autograd.grad(loss, captured[0])
    return g.pow(2).sum(dim=(0, 2)).sqrt().flip(0)


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------

def get(ns: dict, name: str):
    obj = ns.get(name)
    assert obj is not None, f"`{name}` is not defined in rnn_lm.py (keep the names and signatures of the skeleton)"
    return obj


def tokens(B, T, V, seed, low=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, V, (B, T), generator=g)


def close(got: np.ndarray, want: np.ndarray, what: str, tol: float = 1e-4) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    err = float(np.max(np.abs(got - want) / (1.0 + np.abs(want)))) if want.size else 0.0
    assert np.isfinite(got).all(), f"{what}: contains NaN or inf"
    assert err <= tol, f"{what}: differs from the reference (max relative error {err:.2e}, tolerance {tol:.0e})"


def build(ns: dict, cls_name: str, V, E, H, pad_idx=0, seed=0):
    cls = get(ns, cls_name)
    torch.manual_seed(seed)
    return cls(V, E, H, pad_idx=pad_idx)


def diagnose_logits(logits: torch.Tensor) -> str:
    p = logits.detach().double()
    if torch.allclose(p.sum(-1), torch.ones_like(p.sum(-1)), atol=1e-4) and (p >= 0).all():
        return " Your logits look like probabilities (softmax applied): return unnormalised scores."
    if torch.allclose(p.exp().sum(-1), torch.ones_like(p.sum(-1)), atol=1e-4):
        return " Your logits look like log-probabilities (log_softmax applied): return unnormalised scores."
    return ""


# Named, so that a failing case reads V=3, E=1, ...: vocabulary, embedding, hidden, batch, time.
SIZES = dict(V=st.integers(3, 30), E=st.integers(1, 10), H=st.integers(1, 12), B=st.integers(1, 4), T=st.integers(1, 8))


# ----------------------------------------------------------------------------
# Tasks 1 and 2: the models
# ----------------------------------------------------------------------------

MODEL_SPECS = {
    1: ("VanillaRNNLM", "rnn_cell", nn.RNNCell, rnn_params, torch_ref_rnn),
    2: ("LSTMLM", "lstm", nn.LSTM, lstm_params, torch_ref_lstm),
}


def random_state(task, B, H, seed):
    g = torch.Generator().manual_seed(seed)
    if task == 1:
        return torch.randn(B, H, generator=g) * 0.5
    return torch.randn(1, B, H, generator=g) * 0.5, torch.randn(1, B, H, generator=g) * 0.5


def forward_reference(task, model, x, state):
    xs = x.numpy()
    if task == 1:
        logits, h = ref_rnn(model, xs, None if state is None else np64(state))
        return logits, (h,)
    np_state = None if state is None else (np64(state[0][0]), np64(state[1][0]))
    logits, h, c = ref_lstm(model, xs, np_state)
    return logits, (h, c)


def returned_state(task, out_state):
    if task == 1:
        return (np64(out_state),)
    h, c = out_state
    assert h.shape[0] == 1 and c.shape[0] == 1, "h_n and c_n should be (1, B, H), as nn.LSTM returns them"
    return np64(h[0]), np64(c[0])


def structure_check(task):
    cls_name, attr, kind, _, _ = MODEL_SPECS[task]

    def body(ns):
        V, E, H = 13, 5, 7
        model = build(ns, cls_name, V, E, H, pad_idx=3)
        assert isinstance(getattr(model, "emb", None), nn.Embedding), "self.emb should be an nn.Embedding"
        assert tuple(model.emb.weight.shape) == (V, E), f"emb should be Embedding(vocab_size, emb_dim) = ({V}, {E})"
        assert model.emb.padding_idx == 3, "the embedding must use padding_idx=pad_idx (here pad_idx=3)"
        assert float(model.emb.weight.detach()[3].abs().sum()) == 0.0, "the padding row of the embedding must be zero"
        layer = getattr(model, attr, None)
        assert isinstance(layer, kind), f"self.{attr} should be an {kind.__module__.split('.')[0]}.nn.{kind.__name__}"
        assert layer.input_size == E and layer.hidden_size == H, f"self.{attr} should map emb_dim={E} to hidden_dim={H}"
        if task == 1:
            assert layer.nonlinearity == "tanh", "the RNN cell must use tanh"
        else:
            assert layer.batch_first, "the LSTM must be batch_first=True: inputs are (B, T, E)"
            assert layer.num_layers == 1 and not layer.bidirectional, "one layer, one direction"
        assert isinstance(getattr(model, "fc", None), nn.Linear), "self.fc should be an nn.Linear"
        assert (model.fc.in_features, model.fc.out_features) == (H, V), f"fc should be Linear(hidden_dim={H}, vocab_size={V})"
        assert getattr(model, "hidden_dim", None) == H, "self.hidden_dim should be set to hidden_dim"
    return body


def shapes_check(task):
    cls_name = MODEL_SPECS[task][0]

    def body(ns):
        @HYPOTHESIS
        @given(**SIZES)
        def prop(V, E, H, B, T):
            model = build(ns, cls_name, V, E, H)
            logits, state = model(tokens(B, T, V, seed=V))
            assert isinstance(logits, torch.Tensor) and logits.dtype == torch.float32, "logits should be a float32 tensor"
            assert tuple(logits.shape) == (B, T, V), f"logits shape {tuple(logits.shape)}, expected (B, T, V) = {(B, T, V)}"
            if task == 1:
                assert tuple(state.shape) == (B, H), f"h_T shape {tuple(state.shape)}, expected (B, H) = {(B, H)}"
            else:
                h, c = state
                assert tuple(h.shape) == tuple(c.shape) == (1, B, H), f"h_n, c_n should be (1, B, H) = {(1, B, H)}"
        prop()
    return body


def reference_check(task):
    cls_name = MODEL_SPECS[task][0]

    def body(ns):
        @HYPOTHESIS
        @given(**SIZES, with_state=st.booleans())
        def prop(V, E, H, B, T, with_state):
            model = build(ns, cls_name, V, E, H)
            x = tokens(B, T, V, seed=T)
            x[0, 0] = 0  # a pad token among the inputs
            state = random_state(task, B, H, seed=B) if with_state else None
            with torch.no_grad():
                logits, out_state = model(x, state)
            want_logits, want_state = forward_reference(task, model, x, state)
            try:
                close(np64(logits), want_logits, "logits")
            except AssertionError as err:
                raise AssertionError(f"{err}.{diagnose_logits(logits)}" + (
                    " (with a given initial state: is it used?)" if with_state else "")) from None
            for got, want, what in zip(returned_state(task, out_state), want_state, ("h_T", "c_T")):
                close(got, want, f"returned {what}")
        prop()
    return body


def gradient_check(task):
    cls_name, _, _, params_of, torch_ref = MODEL_SPECS[task]

    def body(ns):
        V, E, H, B, T = 9, 4, 6, 3, 5
        model = build(ns, cls_name, V, E, H)
        x = tokens(B, T, V, seed=1)
        x[1, 2] = 0
        state = random_state(task, B, H, seed=2)
        g = torch.Generator().manual_seed(3)
        R = torch.randn(B, T, V, generator=g)
        S = torch.randn(B, H, generator=g)
        model.zero_grad()
        logits, out_state = model(x, state)
        h_last = out_state if task == 1 else out_state[0][0]
        ((logits * R).sum() + (h_last * S).sum()).backward()
        ref = {k: v.detach().double().requires_grad_() for k, v in params_of(model).items()}
        ref_state = (state.double() if task == 1 else (state[0][0].double(), state[1][0].double()))
        ref_logits, ref_h, *_ = torch_ref(ref, x, ref_state)
        ((ref_logits * R.double()).sum() + (ref_h * S.double()).sum()).backward()
        ref["emb"].grad[0] = 0.0  # padding_idx: the pad row gets no gradient
        for name, p in params_of(model).items():
            assert p.grad is not None, f"no gradient reached the parameter `{name}`: is it used in forward?"
            close(np64(p.grad), np64(ref[name].grad), f"gradient of `{name}`")
        assert float(params_of(model)["emb"].grad[0].abs().sum()) == 0.0, "the padding embedding must get no gradient"
    return body


def causality_check(task):
    cls_name = MODEL_SPECS[task][0]

    def body(ns):
        V, E, H, B, T = 11, 4, 6, 3, 7
        model = build(ns, cls_name, V, E, H)
        x = tokens(B, T, V, seed=4)
        with torch.no_grad():
            base, _ = model(x)
            for t in range(T - 1):
                changed = x.clone()
                changed[:, t + 1:] = (changed[:, t + 1:] % (V - 1)) + 1
                out, _ = model(changed)
                assert torch.allclose(out[:, : t + 1], base[:, : t + 1], atol=1e-6), \
                    f"changing the inputs after step {t} changed the logits at steps <= {t}: the model looks ahead"
            other = x.clone()
            other[1:] = tokens(B - 1, T, V, seed=5)
            out, _ = model(other)
            assert torch.allclose(out[0], base[0], atol=1e-6), \
                "changing other sequences of the batch changed sequence 0: batch elements must be independent " \
                "(are batch and time axes mixed up?)"
    return body


def continuation_check(task):
    cls_name = MODEL_SPECS[task][0]

    def body(ns):
        V, E, H, B, T = 10, 4, 6, 2, 8
        model = build(ns, cls_name, V, E, H)
        x = tokens(B, T, V, seed=6)
        with torch.no_grad():
            full, full_state = model(x)
            first, state = model(x[:, :3])
            second, end_state = model(x[:, 3:], state)
        assert torch.allclose(torch.cat([first, second], 1), full, atol=1e-5), \
            "two halves with the returned state passed on should equal one pass over the whole sequence"
        for a, b in zip(returned_state(task, end_state), returned_state(task, full_state)):
            assert np.allclose(a, b, atol=1e-5), "the state after the second half should equal the state after one pass"
    return body


def far_gradient(model, seed) -> float:
    """Relative gradient reaching 20 steps back, measured by trusted code on a fixed batch."""
    x = tokens(8, 30, 50, seed=seed)
    y = tokens(8, 30, 50, seed=seed + 100)
    g = trusted_gradient_through_time(model, x, y)
    return float(g[20] / g[0])


VANISHING_SEEDS = range(20)
VANISHING_MARGIN = 10.0  # measured: at least 36x over these seeds with the reference models


def vanishing_check(task):
    cls_name = MODEL_SPECS[task][0]

    def body(ns):
        for seed in VANISHING_SEEDS:
            torch.manual_seed(seed)
            ref = TrustedLSTM(50, 128, 256) if task == 1 else TrustedRNN(50, 128, 256)
            theirs = far_gradient(build(ns, cls_name, 50, 128, 256, seed=seed), seed)
            reference = far_gradient(ref, seed)
            assert theirs > 0.0, ("no gradient reaches 20 steps back at all: the hidden state is not carried "
                                  "from step to step")
            if task == 1:
                assert theirs * VANISHING_MARGIN <= reference, (
                    f"seed {seed}: at initialisation your RNN keeps {theirs:.1e} of the gradient 20 steps back; a "
                    f"tanh RNN with PyTorch's default init keeps at least {VANISHING_MARGIN:.0f}x less than an LSTM "
                    f"({reference:.1e}). Is the default initialisation used, and is the state carried as a tanh RNN?")
            else:
                assert theirs >= VANISHING_MARGIN * reference and theirs <= 1.0, (
                    f"seed {seed}: at initialisation your LSTM keeps {theirs:.1e} of the gradient 20 steps back; an "
                    f"LSTM keeps at least {VANISHING_MARGIN:.0f}x more than a tanh RNN ({reference:.1e}).")
    return body


for _task, _label in ((1, "VanillaRNNLM"), (2, "LSTMLM")):
    for _suffix, _factory, _what in (
        ("structure", structure_check, "modules, sizes, padding_idx"),
        ("shapes", shapes_check, "output shapes and dtypes for random sizes"),
        ("reference", reference_check, "logits and state equal a float64 reference from your weights"),
        ("gradients", gradient_check, "parameter gradients equal a float64 reference"),
        ("causal", causality_check, "causal and batch-independent"),
        ("continuation", continuation_check, "the returned state continues a sequence exactly"),
        ("vanishing", vanishing_check, "gradient 20 steps back at initialisation (20 seeds)"),
    ):
        _name = f"task{_task}_{_suffix}"
        CHECKS[_name] = Check(_task, _name, f"{_label}: {_what}", _factory(_task))


# ----------------------------------------------------------------------------
# Task 3: lm_loss
# ----------------------------------------------------------------------------

def loss_case(B, T, V, seed, pad_frac=0.3, ignore_index=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=g) * 2
    targets = torch.randint(0, V, (B, T), generator=g)
    targets[torch.rand(B, T, generator=g) < pad_frac] = ignore_index
    targets[0, 0] = 1 if ignore_index != 1 else 2  # at least one real target
    return logits, targets


@check(3, "lm_loss: matches a float64 reference (mean and sum, random shapes, padding)")
def task3_reference(ns):
    lm_loss = get(ns, "lm_loss")

    @HYPOTHESIS
    @given(st.integers(1, 5), st.integers(1, 7), st.integers(3, 20), st.floats(0.0, 0.8), st.sampled_from([0, 2]))
    def prop(B, T, V, pad_frac, ignore_index):
        logits, targets = loss_case(B, T, V, seed=B * 100 + T, pad_frac=pad_frac, ignore_index=ignore_index)
        total, count = ref_nll(np64(logits), targets.numpy(), ignore_index)
        mean = lm_loss(logits, targets, ignore_index=ignore_index, reduction="mean")
        summed = lm_loss(logits, targets, ignore_index=ignore_index, reduction="sum")
        for got, want, what in ((mean, total / count, "mean"), (summed, total, "sum")):
            assert isinstance(got, torch.Tensor) and got.dim() == 0, f"reduction={what!r} should return a scalar tensor"
            assert math.isclose(float(got), want, rel_tol=1e-4, abs_tol=1e-5), (
                f"reduction={what!r}: got {float(got):.6f}, expected {want:.6f} ({count} non-pad targets of {B * T}; "
                f"ignore_index={ignore_index}). The mean is over non-pad targets only.")
    prop()


@check(3, "lm_loss: pad targets never change the loss; default arguments")
def task3_padding(ns):
    lm_loss = get(ns, "lm_loss")
    logits, targets = loss_case(3, 6, 9, seed=7, pad_frac=0.4)
    base = lm_loss(logits, targets)
    noisy = logits.clone()
    noisy[targets == 0] += 10 * torch.randn(int((targets == 0).sum()), 9)
    assert math.isclose(float(lm_loss(noisy, targets)), float(base), rel_tol=1e-6), \
        "changing the logits at positions whose target is <pad> changed the loss: mask them (ignore_index)"
    total, count = ref_nll(np64(logits), targets.numpy(), 0)
    assert math.isclose(float(base), total / count, rel_tol=1e-4), \
        "with default arguments lm_loss should ignore pad id 0 and average over non-pad targets"


@check(3, "lm_loss: axes (B != T) and the gradient with respect to the logits")
def task3_gradient(ns):
    lm_loss = get(ns, "lm_loss")
    logits, targets = loss_case(2, 5, 7, seed=8)
    logits.requires_grad_(True)
    lm_loss(logits, targets).backward()
    assert logits.grad is not None, "the loss must be differentiable with respect to the logits (no .detach/.item)"
    L = np64(logits)
    t = targets.numpy()
    p = np.exp(ref_log_softmax(L))
    onehot = np.zeros_like(p)
    rows, cols = np.nonzero(t != 0)
    onehot[rows, cols, t[rows, cols]] = 1.0
    want = (p - onehot) * (t != 0)[..., None] / (t != 0).sum()
    close(np64(logits.grad), want, "d loss / d logits")


# ----------------------------------------------------------------------------
# Task 4: evaluate
# ----------------------------------------------------------------------------

class FixedLM(nn.Module):
    """A deterministic model whose logits depend on the inputs; records how it was called."""

    def __init__(self, V=12):
        super().__init__()
        g = torch.Generator().manual_seed(11)
        self.table = nn.Parameter(torch.randn(V, V, generator=g))
        self.calls = []

    def forward(self, x, state=None):
        self.calls.append({"grad": torch.is_grad_enabled(), "training": self.training})
        return self.table[x] * 1.5, None


def uneven_batches(V=12, pad_id=0):
    """Batches of different sizes and very different pad counts."""
    out = []
    for i, (B, T, pad_frac) in enumerate([(4, 6, 0.0), (1, 6, 0.8), (3, 6, 0.5), (2, 6, 0.1)]):
        g = torch.Generator().manual_seed(20 + i)
        x = torch.randint(1, V, (B, T), generator=g)
        y = torch.randint(1, V, (B, T), generator=g)
        y[torch.rand(B, T, generator=g) < pad_frac] = pad_id
        y[0, 0] = 1 if pad_id != 1 else 3
        out.append((x, y))
    return out


def reference_eval(model, batches, pad_id):
    total = count = 0
    for x, y in batches:
        s, c = ref_nll(np64(model(x)[0]), y.numpy(), pad_id)
        total, count = total + s, count + c
    return total / count


@check(4, "evaluate: token-weighted mean loss and exp perplexity over uneven batches")
def task4_token_weighted(ns):
    evaluate = get(ns, "evaluate")
    for pad_id in (0, 2):
        model = FixedLM()
        batches = uneven_batches(pad_id=pad_id)
        want = reference_eval(model, batches, pad_id)
        result = evaluate(model, batches, pad_id=pad_id)
        assert isinstance(result, tuple) and len(result) == 2, "evaluate should return (mean_loss, perplexity)"
        loss, ppl = result
        assert isinstance(loss, float) and isinstance(ppl, float), "return two Python floats (use .item())"
        per_batch = float(np.mean([ref_nll(np64(model(x)[0]), y.numpy(), pad_id)[0] /
                                   ref_nll(np64(model(x)[0]), y.numpy(), pad_id)[1] for x, y in batches]))
        hint = " (that is the average of per-batch means: weight by tokens)" if math.isclose(loss, per_batch, rel_tol=1e-4) else ""
        assert math.isclose(loss, want, rel_tol=1e-4), (
            f"pad_id={pad_id}: mean loss {loss:.5f}, expected {want:.5f} = total loss over all non-pad targets / "
            f"their number{hint}")
        hint = " (base 2? perplexity uses the natural exponential)" if math.isclose(ppl, 2 ** want, rel_tol=1e-4) else ""
        assert math.isclose(ppl, math.exp(want), rel_tol=1e-4), f"perplexity {ppl:.4f}, expected exp(mean loss) = {math.exp(want):.4f}{hint}"


@check(4, "evaluate: no autograd graph; parameters, gradients and mode untouched")
def task4_no_side_effects(ns):
    evaluate = get(ns, "evaluate")
    for training in (True, False):
        model = FixedLM()
        model.train(training)
        model.table.grad = torch.full_like(model.table, 0.25)
        before = model.table.detach().clone()
        evaluate(model, uneven_batches(), pad_id=0)
        assert model.calls, "evaluate never called the model"
        assert not any(c["grad"] for c in model.calls), "the model ran with gradients enabled: use torch.no_grad()"
        assert torch.equal(model.table.detach(), before), "evaluate changed the parameters"
        assert model.table.grad is not None and torch.equal(model.table.grad, torch.full_like(before, 0.25)), \
            "evaluate changed the parameters' .grad"
        assert model.training == training, f"evaluate should leave the model in {'train' if training else 'eval'} mode as it found it"


@check(4, "evaluate: any iterable of batches; a real model")
def task4_generator_and_model(ns):
    evaluate = get(ns, "evaluate")
    torch.manual_seed(0)
    model = TrustedLSTM(12, 4, 5)
    batches = uneven_batches()
    want = reference_eval(model, batches, 0)
    loss, _ = evaluate(model, (b for b in batches))
    assert math.isclose(loss, want, rel_tol=1e-4), f"with a generator of batches: mean loss {loss:.5f}, expected {want:.5f}"


# ----------------------------------------------------------------------------
# Task 5: l2_grad_norm_recurrent
# ----------------------------------------------------------------------------

class ManyRecurrent(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.lstm = nn.LSTM(3, 4, num_layers=2)
        self.cell = nn.RNNCell(3, 5)
        self.head = nn.Linear(4, 2)


def set_random_grads(model, seed, skip=()):
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        p.grad = None if name in skip else torch.randn(p.shape, generator=g)


@check(5, "l2_grad_norm_recurrent: sqrt of summed squares over weight_hh* gradients only")
def task5_reference(ns):
    fn = get(ns, "l2_grad_norm_recurrent")
    model = ManyRecurrent()
    assert fn(model) == 0.0, "with no gradients at all the result should be 0.0"
    for seed, skip in ((0, ()), (1, ("lstm.weight_hh_l1",))):
        set_random_grads(model, seed, skip)
        squares = [float((p.grad.double() ** 2).sum()) for n, p in model.named_parameters()
                   if "weight_hh" in n and p.grad is not None]
        want = math.sqrt(sum(squares))
        got = fn(model)
        assert isinstance(got, float), "return a Python float"
        hint = ""
        if math.isclose(got, sum(math.sqrt(s) for s in squares), rel_tol=1e-5):
            hint = " (that is the sum of the per-parameter norms: take one norm over all entries)"
        elif math.isclose(got, math.sqrt(sum(float((p.detach().double() ** 2).sum()) for n, p in model.named_parameters()
                                             if "weight_hh" in n)), rel_tol=1e-5):
            hint = " (that is the norm of the weights: use their .grad)"
        assert math.isclose(got, want, rel_tol=1e-5), (
            f"got {got:.6f}, expected {want:.6f} over the {len(squares)} weight_hh parameters with a gradient{hint}")


@check(5, "l2_grad_norm_recurrent: 0.0 when no recurrent weight has a gradient; grads left as they are")
def task5_edge_cases(ns):
    fn = get(ns, "l2_grad_norm_recurrent")
    model = ManyRecurrent()
    set_random_grads(model, 2, skip={n for n, _ in model.named_parameters() if "weight_hh" in n})
    before = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    got = fn(model)
    assert got == 0.0, f"only non-recurrent parameters have gradients, so the result should be 0.0, got {got}"
    after = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert before.keys() == after.keys() and all(torch.equal(before[n], after[n]) for n in before), \
        "l2_grad_norm_recurrent must not change any gradient"
    lin = nn.Linear(2, 2)
    assert fn(lin) == 0.0, "a model without weight_hh parameters has norm 0.0"


# ----------------------------------------------------------------------------
# Task 6: gradient_through_time
# ----------------------------------------------------------------------------

@check(6, "gradient_through_time: equals a trusted reference on an RNN and a fused LSTM")
def task6_reference(ns):
    gtt = get(ns, "gradient_through_time")

    @HYPOTHESIS
    @given(st.integers(1, 4), st.integers(1, 9), st.booleans())
    def prop(B, T, use_lstm):
        torch.manual_seed(B * 10 + T)
        model = (TrustedLSTM if use_lstm else TrustedRNN)(15, 4, 6)
        x, y = tokens(B, T, 15, seed=T), tokens(B, T, 15, seed=T + 1)
        got = gtt(model, x, y)
        want = trusted_gradient_through_time(model, x, y)
        assert isinstance(got, torch.Tensor), "return a tensor"
        assert tuple(got.shape) == (T,), f"shape {tuple(got.shape)}, expected (T,) = ({T},)"
        hint = ""
        if T > 1 and np.allclose(np64(got), np64(want.flip(0)), rtol=1e-4):
            hint = " (reversed: g[0] must be the last step's own input, k = T-1-t)"
        close(np64(got), np64(want), f"{'LSTM' if use_lstm else 'RNN'} gradient norms by distance" + hint)
    prop()


@check(6, "gradient_through_time: leaves parameter gradients untouched; pad id honoured")
def task6_side_effects(ns):
    gtt = get(ns, "gradient_through_time")
    torch.manual_seed(3)
    model = TrustedRNN(12, 3, 5)
    x, y = tokens(2, 6, 12, seed=1), tokens(2, 6, 12, seed=2)
    gtt(model, x, y)
    assert all(p.grad is None for p in model.parameters()), \
        "parameters have .grad after the call: use torch.autograd.grad (or clear what you added)"
    y = y.clone()
    y[0, -1] = 5
    want = trusted_gradient_through_time(model, x, y, pad_id=5)
    close(np64(gtt(model, x, y, pad_id=5)), np64(want), "with pad_id=5 and a pad last target")
