"""Task 6: ``gradient_through_time``, called in the worker on a fixture GRU language model (fused,
like ``nn.LSTM``) with the judge's weights, compared with the judge's float64 gradients."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from ..references import close, gradient_through_time, gru_forward, random_params, tokens
from ..registry import ATTESTED, HYPOTHESIS, check
from ..session import expect_array
from . import judged_loss


def call_gtt(worker, V, E, H, params, x, y, pad_id=None) -> tuple[np.ndarray, dict]:
    """The submission's ``gradient_through_time`` on the fixture GRU with ``params``."""
    logits, _ = gru_forward({k: v.astype(np.float64) for k, v in params.items()}, x, None)
    case = judged_loss.loss_case(logits[:, -1], y[:, -1], 0 if pad_id is None else pad_id)
    loss_header, loss_arrays = judged_loss.pack([case])
    reply, arrays = worker.request("gradient_through_time", {"model": "gru", "V": V, "E": E, "H": H, "pad_id": pad_id,
                                                             **loss_header}, {**params, "x": x, "y": y, **loss_arrays})
    return expect_array(arrays, "g", what="the returned norms"), reply


@check(6, "gradient_through_time: equals a trusted reference on a fused recurrent model (a GRU LM)")
def task6_reference(worker):
    @HYPOTHESIS
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


@check(6, "gradient_through_time: the pad_id argument is honoured")
def task6_pad_id(worker):
    params = random_params("gru", 12, 3, 5, seed=3)
    x, y = tokens(2, 6, 12, seed=1), tokens(2, 6, 12, seed=2)
    y[0, -1] = 5
    got, _ = call_gtt(worker, 12, 3, 5, params, x, y, pad_id=5)
    close(got, gradient_through_time("gru", params, x, y, pad_id=5), "with pad_id=5 and a pad last target")


@check(6, "gradient_through_time: parameter gradients left untouched (as your process reports them)", gated=ATTESTED)
def task6_param_grads(worker):
    params = random_params("gru", 12, 3, 5, seed=3)
    _, reply = call_gtt(worker, 12, 3, 5, params, tokens(2, 6, 12, seed=1), tokens(2, 6, 12, seed=2))
    assert reply.get("param_grads_none") is True, \
        "parameters have .grad after the call: use torch.autograd.grad (or clear what you added)"
