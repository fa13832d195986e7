"""Task 6: ``gradient_through_time``, called in the worker on a fixture GRU language model (fused,
like ``nn.LSTM``) with the judge's weights, compared with the judge's float64 gradients."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from .. import secret
from ..references import close, gradient_through_time, gru_forward, random_params, tokens
from ..registry import ATTESTED, GUESSABLE, check, examples
from ..session import expect_array
from . import judged_loss
from .elsewhere import ELSEWHERE_HINT, on_other_device


# A caller's mixed modes: the model in train mode, its embedding in eval mode. The docstring lets the
# function change modes if it puts each module's own back, even when the forward pass raises.
MIXED_MODES = {"emb": False}
MODES_BEFORE = {"": True, "emb": False, "gru": True, "fc": True}


def call_gtt(worker, V, E, H, params, x, y, pad_id=None, repeat=1, same_objects=False,
             preset_grad=None, submodule_modes=None) -> tuple[np.ndarray, dict]:
    """The submission's ``gradient_through_time`` on the fixture GRU with ``params`` (``repeat`` times),
    in train mode but for the submodules named in ``submodule_modes``."""
    logits, _ = gru_forward({k: v.astype(np.float64) for k, v in params.items()}, x, None)
    case = judged_loss.loss_case(logits[:, -1], y[:, -1], 0 if pad_id is None else pad_id, with_grad=True)
    loss_header, loss_arrays = judged_loss.pack([case])
    reply, arrays = worker.request("gradient_through_time", {"model": "gru", "V": V, "E": E, "H": H, "pad_id": pad_id,
                                                             "repeat": repeat, "same_objects": same_objects,
                                                             "preset_grad": preset_grad,
                                                             "submodule_modes": submodule_modes or {},
                                                             **loss_header},
                                   {**params, "x": x, "y": y, **loss_arrays})
    return expect_array(arrays, "g", what="the returned norms"), reply


@check(6, "gradient_through_time: equals a trusted reference on a fused recurrent model (a GRU LM)")
def task6_reference(worker):
    @examples("task6_reference")
    @given(B=st.integers(1, 4), T=st.integers(1, 9), H=st.integers(1, 8))
    def prop(B, T, H):
        params = random_params("gru", 15, 4, H, seed=B * 10 + T)
        x, y = tokens(B, T, 15, seed=T), tokens(B, T, 15, seed=T + 1)
        got, _ = call_gtt(worker, 15, 4, H, params, x, y)
        want = gradient_through_time("gru", params, x, y)
        assert got.shape == (T,), f"shape {got.shape}, expected (T,) = ({T},)"
        hint = ""
        if T > 1 and np.allclose(got, want[::-1], rtol=1e-4):
            hint = " (reversed: g[0] must be the last step's own input, k = T-1-t)"
        close(got, want, "gradient norms by distance" + hint)
    prop()


@check(6, "gradient_through_time: each call on its own (two models in a row, the same inputs)")
def task6_each_call_on_its_own(worker):
    """Nothing kept from one call for the next: no cache keyed by the model or the inputs, no
    embedding output captured in an earlier call and reused."""
    x, y = tokens(3, 8, 12, seed=31), tokens(3, 8, 12, seed=32)
    for which, seed in (("first", 33), ("second", 34)):
        params = random_params("gru", 12, 3, 5, seed=seed)
        got, _ = call_gtt(worker, 12, 3, 5, params, x, y, same_objects=True)
        close(got, gradient_through_time("gru", params, x, y),
              f"the {which} of two calls (the same model object with other weights, the same x and y objects): "
              "compute each call afresh")


@check(6, "gradient_through_time: the pad_id argument is honoured")
def task6_pad_id(worker):
    params = random_params("gru", 12, 3, 5, seed=3)
    x, y = tokens(2, 6, 12, seed=1), tokens(2, 6, 12, seed=2)
    y[0, -1] = 5
    got, _ = call_gtt(worker, 12, 3, 5, params, x, y, pad_id=5)
    close(got, gradient_through_time("gru", params, x, y, pad_id=5), "with pad_id=5 and a pad last target")


def assert_modes_as_found(reply: dict, when: str) -> None:
    assert reply.get("modes_after") == MODES_BEFORE, (
        f"{when}, the train/eval modes were {reply.get('modes_after')}, not as before ({MODES_BEFORE}, '' being the "
        "model): you need not change modes at all; if you do, set each module's own back (model.train(mode) gives "
        "every submodule the model's mode), in a finally")


@check(6, "gradient_through_time: parameter gradients, hooks and mixed train/eval modes left as they were, over "
          "repeated calls (as your process reports them)", gated=ATTESTED)
def task6_param_grads(worker):
    params = random_params("gru", 12, 3, 5, seed=3)
    _, reply = call_gtt(worker, 12, 3, 5, params, tokens(2, 6, 12, seed=1), tokens(2, 6, 12, seed=2), repeat=3,
                        submodule_modes=MIXED_MODES)
    assert reply.get("param_grads_none") is True, \
        "parameters have .grad after the call: use torch.autograd.grad (or clear what you added)"
    hooks = reply.get("hooks_after_each_call")
    assert hooks == [0, 0, 0], (
        f"hooks left on the model after each of 3 calls: {hooks}. Remove the hook you register (keep its handle "
        "and call handle.remove(), in a finally): each one left keeps the embedding output of every later "
        "forward pass alive, and memory grows with every call")
    assert_modes_as_found(reply, "after 3 calls")
    _, reply = call_gtt(worker, 12, 3, 5, params, tokens(2, 6, 12, seed=1), tokens(2, 6, 12, seed=2), preset_grad=0.25)
    assert reply.get("grads_unchanged") is True, (
        "the parameters' .grad, which held gradients before the call, changed: leave them as they were (use "
        "torch.autograd.grad; zero_grad() after a backward() wipes gradients the caller had)")


@check(6, "gradient_through_time: no hook left, and modes as found, when the forward pass raises (as your "
          "process reports it)", gated=ATTESTED)
def task6_hook_removed_when_forward_raises(worker):
    V, E, H = 12, 3, 5
    loss_header, loss_arrays = judged_loss.pack([])  # the loss is never reached
    reply, _ = worker.request("gradient_through_time", {"model": "gru", "V": V, "E": E, "H": H, "pad_id": None,
                                                        "raise_in_forward": True, "submodule_modes": MIXED_MODES,
                                                        **loss_header},
                              {**random_params("gru", V, E, H, seed=3), "x": tokens(2, 6, V, seed=1),
                               "y": tokens(2, 6, V, seed=2), **loss_arrays})
    assert reply.get("raised") is True, "with a model whose forward pass raises, gradient_through_time did not raise"
    assert reply.get("hooks_after_each_call") == [0], (
        "a hook stayed on the model when its forward pass raised: remove it in a finally (try: ... finally: "
        "handle.remove())")
    assert_modes_as_found(reply, "when the forward pass raised")


@check(6, "gradient_through_time: runs on the device of its inputs", gated=GUESSABLE)
def task6_device(worker):
    V, E, H, B, T = 12, 3, 5, 2, 7
    params = random_params("gru", V, E, H, seed=13)
    reply, _ = on_other_device(lambda: worker.request(
        "gradient_through_time", {"model": "gru", "V": V, "E": E, "H": H, "pad_id": None, "device": "meta"},
        {**params, "x": tokens(B, T, V, seed=14), "y": tokens(B, T, V, seed=15)}))
    assert reply.get("device") == "meta" and reply.get("shape") == [T], (
        f"with the model and inputs on another device the norms came back on {reply.get('device')} with shape "
        f"{reply.get('shape')}: {ELSEWHERE_HINT}")


LAB_WINDOW = (26, 40)  # the lab's windows: 30 tokens, distances 20 and beyond (the sweep goes to 90)
FAR = 20


def long_memory_params(V: int, E: int, H: int) -> dict:
    """A GRU whose update gates start mostly closed (bias +2), so its gradient is still measurable
    30 steps back, as a trained LSTM's is in the lab."""
    params = random_params("gru", V, E, H, seed=60, scale=0.3)
    params["b_ih"][H:2 * H] = 2.0  # PyTorch's GRU gates: reset, update, new
    return params


@check(6, "gradient_through_time: every distance at the lab's sizes (windows over 25 steps, k beyond 20)")
def task6_lab_sizes(worker):
    T = secret.integer(*LAB_WINDOW, "task6_lab_sizes T")
    B, V, E, H = secret.integer(2, 8, "task6_lab_sizes B"), 20, 16, 24
    params = long_memory_params(V, E, H)
    x, y = tokens(B, T, V, seed=61), tokens(B, T, V, seed=62)
    got, _ = call_gtt(worker, V, E, H, params, x, y)
    want = gradient_through_time("gru", params, x, y)
    assert got.shape == (T,), f"shape {got.shape}, expected (T,) = ({T},)"
    assert np.isfinite(got).all(), "the returned norms contain NaN or inf"
    ratio = got / want  # relative at every distance: far gradients are small, and must still be right
    wrong = np.flatnonzero(np.abs(ratio - 1.0) > 1e-3)
    if wrong.size:
        k = int(wrong[0])
        far = " (the distances the lab measures are 20 and beyond)" if k > FAR else ""
        raise AssertionError(f"with a window of T={T}: g[{k}] = {got[k]:.3e}, expected {want[k]:.3e}{far}; "
                             f"{wrong.size} of {T} distances differ by more than 0.1%")
