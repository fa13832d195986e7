"""The judge's ``lm_loss`` for Tasks 4 and 6, packed for the worker (see ``worker.install_judged_loss``).

For each call a check expects: the targets, and the loss's sum and mean *sealed* with a key that
only the logits the model really produces there can make (``protocol.logit_key``). Nothing in the
question adds up to an answer: a stub that never runs the model opens nothing. Task 6 also gets
the gradient with respect to those logits (the start of the backward pass it must do itself).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .. import secret
from ..protocol import KEY_MARGIN, key_id, logit_key, seal
from ..references import log_softmax, nll


def loss_case(logits: np.ndarray, targets: np.ndarray, ignore_index: int, with_grad: bool = False
              ) -> tuple[dict, dict]:
    """One expected call: logits (..., V) and targets (...) as the model and the data give them."""
    V = logits.shape[-1]
    flat, t = logits.reshape(-1, V).astype(np.float64), targets.reshape(-1).astype(np.int64)
    total, count = nll(flat, t, ignore_index)
    usable = np.abs(flat - flat.mean(axis=-1, keepdims=True)) > KEY_MARGIN
    salt = secret.rng("judged loss salt", hashlib.sha256(flat.tobytes() + t.tobytes()).hexdigest()).bytes(16)
    key = logit_key(flat, usable, salt)
    mean = total / count if count else float("nan")
    header = {"ignore_index": ignore_index, "salt": salt.hex(), "id": key_id(key),
              "sum": seal(total, key, "sum"), "mean": seal(mean, key, "mean")}
    arrays = {"targets": t, "usable": usable}
    if with_grad:
        keep = t != ignore_index
        grad = np.exp(log_softmax(flat))
        grad[np.arange(len(t)), np.where(keep, t, 0)] -= keep
        arrays["grad"] = grad * keep[:, None] / max(count, 1)  # d mean / d logits
    return header, arrays


def pack(cases: list[tuple[dict, dict]]) -> tuple[dict, dict]:
    """(header fields, arrays) for a request that installs the judged loss."""
    arrays = {f"case{i}_{name}": value for i, (_, a) in enumerate(cases) for name, value in a.items()}
    return {"loss_cases": [header for header, _ in cases]}, arrays
