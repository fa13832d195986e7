"""Task 3: ``lm_loss``, called in the worker on the judge's logits and targets."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, strategies as st

from .. import secret
from ..references import close, log_softmax, nll
from ..registry import GUESSABLE, check, examples
from ..session import expect_array
from .elsewhere import ELSEWHERE_HINT, on_other_device


def loss_case(B, T, V, seed, pad_frac=0.3, ignore_index=0) -> tuple[np.ndarray, np.ndarray]:
    rng = secret.rng("loss case", B, T, V, seed, pad_frac, ignore_index)
    logits = (rng.standard_normal((B, T, V)) * 2).astype(np.float32)
    targets = rng.integers(0, V, (B, T)).astype(np.int64)
    targets[rng.random((B, T)) < pad_frac] = ignore_index
    targets[0, 0] = 1 if ignore_index != 1 else 2  # at least one real target
    return logits, targets


def call_lm_loss(worker, logits, targets, grad=False, layout="batch_major", dtype="float32", same_objects=False,
                 **kwargs) -> tuple[float, dict, dict]:
    """(value, reply, arrays) of the submission's ``lm_loss(logits, targets, **kwargs)``; with
    ``layout="time_major"`` the logits reach it as a non-contiguous transpose, with
    ``dtype="bfloat16"`` in bfloat16."""
    if layout == "time_major":
        logits, targets = np.ascontiguousarray(logits.transpose(1, 0, 2)), np.ascontiguousarray(targets.T)
    reply, arrays = worker.request("lm_loss", {"kwargs": kwargs, "grad": grad, "layout": layout, "dtype": dtype,
                                               "same_objects": same_objects},
                                   {"logits": logits, "targets": targets})
    assert reply.get("is_scalar_tensor") is True, f"lm_loss should return a scalar tensor, got {reply.get('type')}"
    return float(expect_array(arrays, "value", (), "the loss")), reply, arrays


@check(3, "lm_loss: matches a float64 reference (mean and sum, random shapes, padding)")
def task3_reference(worker):
    @examples("task3_reference")
    @given(st.integers(1, 5), st.integers(1, 7), st.integers(3, 20), st.floats(0.0, 0.8), st.sampled_from([0, 2, -100]))
    def prop(B, T, V, pad_frac, ignore_index):
        logits, targets = loss_case(B, T, V, seed=B * 100 + T, pad_frac=pad_frac, ignore_index=ignore_index)
        total, count = nll(logits.astype(np.float64), targets, ignore_index)
        for reduction, want in (("mean", total / count), ("sum", total)):
            got, _, _ = call_lm_loss(worker, logits, targets, ignore_index=ignore_index, reduction=reduction)
            assert math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-5), (
                f"reduction={reduction!r}: got {got:.6f}, expected {want:.6f} ({count} non-pad targets of {B * T}; "
                f"ignore_index={ignore_index}). The mean is over non-pad targets only.")
    prop()


@check(3, "lm_loss: pad targets never change the loss; default arguments")
def task3_padding(worker):
    V = secret.integer(5, 16, "task3_padding V")
    logits, targets = loss_case(3, 6, V, seed=7, pad_frac=0.4)
    base, _, _ = call_lm_loss(worker, logits, targets)
    noisy = logits.copy()
    rng = secret.rng("task3_padding noise")
    noisy[targets == 0] += (10 * rng.standard_normal((int((targets == 0).sum()), V))).astype(np.float32)
    changed, _, _ = call_lm_loss(worker, noisy, targets)
    assert math.isclose(changed, base, rel_tol=1e-6), \
        "changing the logits at positions whose target is <pad> changed the loss: mask them (ignore_index)"
    total, count = nll(logits.astype(np.float64), targets, 0)
    assert math.isclose(base, total / count, rel_tol=1e-4), \
        "with default arguments lm_loss should ignore pad id 0 and average over non-pad targets"


@check(3, "lm_loss: axes (B != T) and the gradient with respect to the logits")
def task3_gradient(worker):
    logits, targets = loss_case(2, 5, 7, seed=8)
    _, reply, arrays = call_lm_loss(worker, logits, targets, grad=True)
    assert reply.get("has_grad") is True, "the loss must be differentiable with respect to the logits (no .detach/.item)"
    p = np.exp(log_softmax(logits.astype(np.float64)))
    onehot = np.zeros_like(p)
    rows, cols = np.nonzero(targets != 0)
    onehot[rows, cols, targets[rows, cols]] = 1.0
    want = (p - onehot) * (targets != 0)[..., None] / (targets != 0).sum()
    close(expect_array(arrays, "grad", want.shape, "d loss / d logits"), want, "d loss / d logits")


@check(3, "lm_loss: any pad id (PyTorch's -100 too) and non-contiguous logits")
def task3_any_layout(worker):
    V = secret.integer(5, 16, "task3_any_layout V")
    for ignore_index in (-100, V + 3):
        logits, targets = loss_case(4, 6, V, seed=11, pad_frac=0.4, ignore_index=ignore_index)
        total, count = nll(logits.astype(np.float64), targets, ignore_index)
        got, _, _ = call_lm_loss(worker, logits, targets, layout="time_major", ignore_index=ignore_index,
                                 reduction="sum")
        assert math.isclose(got, total, rel_tol=1e-4, abs_tol=1e-5), (
            f"with ignore_index={ignore_index} (a pad id outside the vocabulary) and logits that are a transpose "
            f"(not contiguous: use .reshape, not .view): got {got:.6f}, expected {total:.6f}")


@check(3, "lm_loss: each call on its own (the same tensor objects, other values)")
def task3_each_call_on_its_own(worker):
    """Nothing kept from one call for the next: a training loop may hand it the same buffers again."""
    V = secret.integer(5, 16, "task3_each_call V")
    for which, seed in (("first", 14), ("second", 15)):
        logits, targets = loss_case(3, 6, V, seed=seed, pad_frac=0.3)
        total, count = nll(logits.astype(np.float64), targets, 0)
        got, _, _ = call_lm_loss(worker, logits, targets, same_objects=True)
        assert math.isclose(got, total / count, rel_tol=1e-4, abs_tol=1e-5), (
            f"the {which} of two calls on the same logits and targets objects holding other values: got {got:.6f}, "
            f"expected {total / count:.6f}: compute each call afresh")


BFLOAT16_LOSS_TOLERANCE = 3e-2  # relative: bfloat16 keeps 8 bits of mantissa; a log-softmax over V adds a few roundings


@check(3, "lm_loss: bfloat16 logits (the lab's LSTMs train under bfloat16 autocast)")
def task3_bfloat16(worker):
    V = secret.integer(5, 16, "task3_bfloat16 V")
    logits, targets = loss_case(3, 6, V, seed=13, pad_frac=0.3)
    rounded = torch.from_numpy(logits).to(torch.bfloat16).double().numpy()  # what the submission is given
    total, count = nll(rounded, targets, 0)
    got, reply, _ = call_lm_loss(worker, logits, targets, grad=True, dtype="bfloat16")
    assert reply.get("dtype") in ("bfloat16", "float32", "float64"), \
        f"for bfloat16 logits the loss came back as {reply.get('dtype')}: a floating-point scalar is expected"
    assert reply.get("has_grad") is True, "for bfloat16 logits the loss must still be differentiable"
    assert math.isclose(got, total / count, rel_tol=BFLOAT16_LOSS_TOLERANCE), (
        f"for bfloat16 logits: got {got:.4f}, expected {total / count:.4f} (within bfloat16's precision): "
        "compute in a dtype the logits can be used with (no NumPy, no float32-only buffers)")


@check(3, "lm_loss: runs on the device of its inputs", gated=GUESSABLE)
def task3_device(worker):
    logits, targets = loss_case(3, 5, 9, seed=12, ignore_index=-100)
    reply, _ = on_other_device(lambda: worker.request(
        "lm_loss", {"kwargs": {"ignore_index": -100}, "grad": False, "device": "meta"},
        {"logits": logits, "targets": targets}))
    assert reply.get("is_scalar_tensor") is True and reply.get("device") == "meta", \
        f"with the logits on another device the loss came back on {reply.get('device')}: {ELSEWHERE_HINT}"
