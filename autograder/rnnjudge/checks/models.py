"""Tasks 1 and 2: the models. Each check builds the submission's model in the worker, reads back
its parameters, and compares what the model returns on the judge's inputs with float64
references computed here from those parameters."""

from __future__ import annotations

import functools
import re

import numpy as np
import torch
from hypothesis import given, strategies as st

from .. import secret
from ..references import (FORWARD, GATES, PARAMETER_NAMES, as_tensors, close, default_init, gradient_through_time,
                          random_params, torch_forward, tokens)
from ..registry import ATTESTED, CHECKS, GUESSABLE, Check, examples
from ..session import SubmissionError, expect_array
from .elsewhere import ELSEWHERE_HINT, on_other_device

# task -> (class name, model kind, recurrent attribute, its expected type)
MODELS = {1: ("VanillaRNNLM", "rnn", "rnn_cell", "torch.nn.modules.rnn.RNNCell"),
          2: ("LSTMLM", "lstm", "lstm", "torch.nn.modules.rnn.LSTM")}
# Named, so that a failing case reads V=3, E=1, ...: vocabulary, embedding, hidden, batch, time.
SIZES = dict(V=st.integers(3, 30), E=st.integers(1, 10), H=st.integers(1, 12), B=st.integers(1, 4), T=st.integers(1, 8))


def build(worker, task, V, E, H, pad_idx=0, seed=0, judge_weights=True) -> tuple[dict, dict]:
    """(structure, parameters as float64) of the submission's model built under ``seed``: with the
    judge's random weights loaded (what it computes is then known here, whatever its init does),
    or, with ``judge_weights=False``, its own initialisation as reported."""
    cls, kind, _, _ = MODELS[task]
    mine = random_params(kind, V, E, H, seed=1000 + seed * 7 + V) if judge_weights else {}
    reply, arrays = worker.request("build", {"cls": cls, "V": V, "E": E, "H": H, "pad_idx": pad_idx, "seed": seed},
                                   mine)
    if judge_weights:
        return reply["structure"], {k: v.astype(np.float64) for k, v in mine.items()}
    G = GATES[kind] * H
    shapes = {"emb": (V, E), "W_ih": (G, E), "W_hh": (G, H), "b_ih": (G,), "b_hh": (G,), "W_fc": (V, H), "b_fc": (V,)}
    params = {name: expect_array(arrays, name, shapes[name], f"parameter `{name}` of {cls}({V}, {E}, {H})")
              for name in PARAMETER_NAMES}
    return reply["structure"], params


def drawn_sizes(label: str) -> tuple[int, int, int, int, int]:
    """(V, E, H, B, T) for a check with fixed-size inputs, drawn under the course secret."""
    rng = secret.rng("sizes", label)
    return (int(rng.integers(8, 16)), int(rng.integers(3, 7)), int(rng.integers(4, 9)), int(rng.integers(2, 5)),
            int(rng.integers(5, 10)))


def state_in(task, state) -> dict:
    """A state to send, in the skeleton's layout: RNN h0 (B, H); LSTM h0, c0 (1, B, H)."""
    if state is None:
        return {}
    if task == 1:
        return {"h0": state[0].astype(np.float32)}
    return {"h0": state[0][None].astype(np.float32), "c0": state[1][None].astype(np.float32)}


# PyTorch's words when an int64 tensor meets float weights ("mat1 and mat2 must have the same dtype, but got
# Long and Float"): in these models, a zero state made from the int64 token ids.
INTEGER_TENSOR = re.compile(r"dtype.*\bLong\b|\bLong\b.*dtype", re.I)
INTEGER_STATE_HINT = ("An int64 tensor met the model's float weights: is the zero state made from the token ids? "
                      "x.new_zeros(...) is int64 like x; make it from the embeddings, e.new_zeros(B, H), or with "
                      "torch.zeros(B, H, device=x.device).")


def request_with_dtype_hint(worker, op: str, header: dict, arrays: dict):
    """``worker.request``, with a hint added to an error that an int64 state would cause."""
    try:
        return worker.request(op, header, arrays)
    except SubmissionError as err:
        if INTEGER_TENSOR.search(str(err)):
            raise SubmissionError(f"{err}\n{INTEGER_STATE_HINT}") from None
        raise


def forward(worker, task, x, state=None, no_grad=True) -> tuple[np.ndarray, tuple, dict]:
    """(logits, returned state as (B, H) arrays, reply) of the submission's model on x."""
    reply, arrays = request_with_dtype_hint(worker, "forward", {"no_grad": no_grad}, {"x": x, **state_in(task, state)})
    logits = expect_array(arrays, "logits", what="logits")
    if task == 1:
        return logits, (expect_array(arrays, "h", what="h_T"),), reply
    h, c = expect_array(arrays, "h", what="h_n"), expect_array(arrays, "c", what="c_n")
    assert h.ndim == 3 and h.shape[0] == 1 and c.shape == h.shape, \
        f"h_n and c_n should be (1, B, H), as nn.LSTM returns them; got {h.shape} and {c.shape}"
    return logits, (h[0], c[0]), reply


def random_state(task, B, H, seed) -> tuple:
    rng = secret.rng("state", task, B, H, seed)
    n = 1 if task == 1 else 2
    return tuple((rng.standard_normal((B, H)) * 0.5).astype(np.float32).astype(np.float64) for _ in range(n))


def diagnose_logits(logits: np.ndarray) -> str:
    if np.allclose(logits.sum(-1), 1.0, atol=1e-4) and (logits >= 0).all():
        return " Your logits look like probabilities (softmax applied): return unnormalised scores."
    if np.allclose(np.exp(logits).sum(-1), 1.0, atol=1e-4):
        return " Your logits look like log-probabilities (log_softmax applied): return unnormalised scores."
    return ""


def structure_check(task):
    cls, kind, attr, layer_type = MODELS[task]

    def body(worker):
        V, E, H, _, _ = drawn_sizes(f"task{task}_structure")
        pad_idx = secret.integer(2, V - 1, f"task{task}_structure pad_idx")
        structure, params = build(worker, task, V, E, H, pad_idx=pad_idx, judge_weights=False)
        emb, layer, fc = structure["emb"], structure[attr], structure["fc"]
        assert emb.get("type") == "torch.nn.modules.sparse.Embedding", "self.emb should be an nn.Embedding"
        assert emb.get("padding_idx") == pad_idx, \
            f"the embedding must use padding_idx=pad_idx (here pad_idx={pad_idx})"
        assert float(np.abs(params["emb"][pad_idx]).sum()) == 0.0, "the padding row of the embedding must be zero"
        assert layer.get("type") == layer_type, f"self.{attr} should be an {layer_type.replace('.modules.rnn', '')}"
        assert (layer.get("input_size"), layer.get("hidden_size")) == (E, H), \
            f"self.{attr} should map emb_dim={E} to hidden_dim={H}"
        if task == 1:
            assert layer.get("nonlinearity") == "tanh", "the RNN cell must use tanh"
        else:
            assert layer.get("batch_first") is True, "the LSTM must be batch_first=True: inputs are (B, T, E)"
            assert layer.get("num_layers") == 1 and layer.get("bidirectional") is False, "one layer, one direction"
        assert fc.get("type") == "torch.nn.modules.linear.Linear", "self.fc should be an nn.Linear"
        assert (fc.get("in_features"), fc.get("out_features")) == (H, V), \
            f"fc should be Linear(hidden_dim={H}, vocab_size={V})"
    return body


def shapes_check(task):
    def body(worker):
        @examples(f"task{task}_shapes")
        @given(**SIZES)
        def prop(V, E, H, B, T):
            build(worker, task, V, E, H)
            logits, state, reply = forward(worker, task, tokens(B, T, V, seed=V))
            assert reply.get("logits_dtype") == "float32", f"logits should be float32, got {reply.get('logits_dtype')}"
            assert logits.shape == (B, T, V), f"logits shape {logits.shape}, expected (B, T, V) = {(B, T, V)}"
            for s, name in zip(state, ("h_T", "c_T")):
                assert s.shape == (B, H), f"{name} shape {s.shape}, expected (B, H) = {(B, H)}"
        prop()
    return body


def reference_check(task):
    kind = MODELS[task][1]

    def body(worker):
        @examples(f"task{task}_reference")
        @given(**SIZES, with_state=st.booleans())
        def prop(V, E, H, B, T, with_state):
            _, params = build(worker, task, V, E, H)
            x = tokens(B, T, V, seed=T)
            x[0, 0] = 0  # a pad token among the inputs
            state = random_state(task, B, H, seed=B) if with_state else None
            logits, out_state, _ = forward(worker, task, x, state)
            want_logits, want_state = FORWARD[kind](params, x, state if task == 2 or state is None else state[0])
            try:
                close(logits, want_logits, "logits")
            except AssertionError as err:
                raise AssertionError(f"{err}.{diagnose_logits(logits)}" + (
                    " (with a given initial state: is it used?)" if with_state else "")) from None
            for got, want, what in zip(out_state, want_state, ("h_T", "c_T")):
                close(got, want, f"returned {what}")
        prop()
    return body


def gradient_check(task):
    kind = MODELS[task][1]

    def body(worker):
        V, E, H, B, T = drawn_sizes(f"task{task}_gradients")
        _, params = build(worker, task, V, E, H)
        x = tokens(B, T, V, seed=1)
        x[1, 2] = 0
        state = random_state(task, B, H, seed=2)
        rng = secret.rng("gradient check", task)
        R = rng.standard_normal((B, T, V)).astype(np.float32)
        S = rng.standard_normal((B, H)).astype(np.float32)
        _, grads = worker.request("forward_backward", {}, {"x": x, **state_in(task, state), "R": R, "S": S})
        p = as_tensors(params, requires_grad=True)
        ref_state = torch.tensor(state[0]) if task == 1 else tuple(torch.tensor(s) for s in state)
        logits, h = torch_forward(kind, p, p["emb"][torch.from_numpy(x)], ref_state)
        ((logits * torch.tensor(R, dtype=torch.float64)).sum() + (h * torch.tensor(S, dtype=torch.float64)).sum()).backward()
        p["emb"].grad[0] = 0.0  # padding_idx: the pad row gets no gradient
        for name in PARAMETER_NAMES:
            assert name in grads, f"no gradient reached the parameter `{name}`: is it used in forward?"
            close(expect_array(grads, name, params[name].shape, f"gradient of `{name}`"), p[name].grad.numpy(),
                  f"gradient of `{name}`")
    return body


def causality_check(task):
    def body(worker):
        V, E, H, B, T = drawn_sizes(f"task{task}_causal")
        build(worker, task, V, E, H)
        x = tokens(B, T, V, seed=4)
        base, _, _ = forward(worker, task, x)
        for t in range(T - 1):
            changed = x.copy()
            changed[:, t + 1:] = (changed[:, t + 1:] % (V - 1)) + 1
            out, _, _ = forward(worker, task, changed)
            assert out.shape == base.shape and np.allclose(out[:, : t + 1], base[:, : t + 1], atol=1e-6), \
                f"changing the inputs after step {t} changed the logits at steps <= {t}: the model looks ahead"
        other = x.copy()
        other[1:] = tokens(B - 1, T, V, seed=5)
        out, _, _ = forward(worker, task, other)
        assert np.allclose(out[0], base[0], atol=1e-6), \
            "changing other sequences of the batch changed sequence 0: batch elements must be independent " \
            "(are batch and time axes mixed up?)"
    return body


def device_check(task):
    def body(worker):
        V, E, H, B, T = drawn_sizes(f"task{task}_device")
        build(worker, task, V, E, H)
        for state in (None, random_state(task, B, H, seed=9)):
            arrays = {"x": tokens(B, T, V, seed=8), **state_in(task, state)}
            reply, _ = on_other_device(lambda: worker.request("forward_on_meta", {}, arrays))
            devices, shapes = reply.get("devices"), reply.get("shapes")
            assert devices and all(d == "meta" for d in devices), \
                f"with the inputs on another device, the outputs came back on {devices}: {ELSEWHERE_HINT}"
            assert shapes and shapes[0] == [B, T, V], f"logits shape {shapes and shapes[0]}, expected {[B, T, V]}"
    return body


def continuation_check(task):
    def body(worker):
        V, E, H, B, T = drawn_sizes(f"task{task}_continuation")
        split = secret.integer(1, T - 1, f"task{task}_continuation split")
        build(worker, task, V, E, H)
        x = tokens(B, T, V, seed=6)
        full, full_state, _ = forward(worker, task, x)
        first, state, _ = forward(worker, task, x[:, :split])
        second, end_state, _ = forward(worker, task, x[:, split:], state)
        assert np.allclose(np.concatenate([first, second], 1), full, atol=1e-5), \
            "two halves with the returned state passed on should equal one pass over the whole sequence"
        for a, b in zip(end_state, full_state):
            assert np.allclose(a, b, atol=1e-5), "the state after the second half should equal the state after one pass"
    return body


VANISHING_DRAWS = 10  # initialisations compared, each under a seed drawn from the course secret
VANISHING_MARGIN = 10.0  # measured: at least 36x over 20 seeds with the reference models
PROBE = dict(V=50, E=128, H=256, B=8, T=30, k=20)


def probe_batch(seed) -> tuple[np.ndarray, np.ndarray]:
    return tokens(PROBE["B"], PROBE["T"], PROBE["V"], seed=seed), tokens(PROBE["B"], PROBE["T"], PROBE["V"], seed=seed + 1)


@functools.lru_cache(maxsize=64)
def reference_far_gradient(kind: str, seed: int, probe_key: bytes) -> float:
    """g[k]/g[0] of PyTorch's default-initialised model of ``kind`` on the probe batch (``probe_key``:
    the batch's bytes, so that the cache never mixes two secrets)."""
    g = gradient_through_time(kind, default_init(kind, PROBE["V"], PROBE["E"], PROBE["H"], seed), *probe_batch(seed))
    return float(g[PROBE["k"]] / g[0])


def vanishing_check(task):
    """At initialisation, how much of the last step's gradient reaches 20 steps back, computed here
    from the weights the submission's model reports as built (its forward is checked against the
    same reference with the judge's weights; the worker computes no gradient for this check)."""
    cls, kind, _, _ = MODELS[task]
    other = "lstm" if kind == "rnn" else "rnn"
    k = PROBE["k"]

    def body(worker):
        for draw in range(VANISHING_DRAWS):
            seed = secret.seed("vanishing", draw)
            _, params = build(worker, task, PROBE["V"], PROBE["E"], PROBE["H"], seed=seed, judge_weights=False)
            x, y = probe_batch(seed)
            g = gradient_through_time(kind, params, x, y)
            theirs = float(g[k] / g[0]) if g[0] > 0 else 0.0
            assert theirs > 0.0, ("no gradient reaches 20 steps back at all with your model's initial weights: "
                                  "are the recurrent weights zero?")
            reference = reference_far_gradient(other, seed, x.tobytes())
            if task == 1:
                assert theirs * VANISHING_MARGIN <= reference, (
                    f"draw {draw}: at initialisation your RNN keeps {theirs:.1e} of the gradient 20 steps back; a "
                    f"tanh RNN with PyTorch's default init keeps at least {VANISHING_MARGIN:.0f}x less than an LSTM "
                    f"({reference:.1e}). Is the default initialisation used?")
            else:
                assert VANISHING_MARGIN * reference <= theirs <= 1.0, (
                    f"draw {draw}: at initialisation your LSTM keeps {theirs:.1e} of the gradient 20 steps back; an "
                    f"LSTM keeps at least {VANISHING_MARGIN:.0f}x more than a tanh RNN ({reference:.1e}). Is the "
                    "default initialisation used?")
    return body


for _task, _label in ((1, "VanillaRNNLM"), (2, "LSTMLM")):
    for _suffix, _factory, _what, _gated in (
        ("structure", structure_check, "modules, sizes, padding_idx (as your process reports them)", ATTESTED),
        ("shapes", shapes_check, "output shapes and dtypes for random sizes", GUESSABLE),
        ("reference", reference_check, "logits and state equal a float64 reference from your weights", ""),
        ("gradients", gradient_check, "parameter gradients equal a float64 reference", ""),
        ("causal", causality_check, "causal and batch-independent", GUESSABLE),
        ("continuation", continuation_check, "the returned state continues a sequence exactly", GUESSABLE),
        ("device", device_check, "runs on the device of its inputs (no tensor made on a fixed device)", GUESSABLE),
        ("vanishing", vanishing_check, "gradient 20 steps back at initialisation (10 seeds)", GUESSABLE),
    ):
        _name = f"task{_task}_{_suffix}"
        CHECKS[_name] = Check(_task, _name, f"{_label}: {_what}", _factory(_task), _gated)
