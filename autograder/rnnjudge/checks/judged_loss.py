"""The judge's ``lm_loss`` for Tasks 4 and 6, packed for the worker (see ``worker.install_judged_loss``):
for each call a check expects, the targets, the model's logits there, the loss and its gradient."""

from __future__ import annotations

import numpy as np

from ..references import log_softmax, nll


def loss_case(logits: np.ndarray, targets: np.ndarray, ignore_index: int) -> tuple[dict, dict]:
    """One expected call: logits (..., V) and targets (...) as the model and the data give them."""
    V = logits.shape[-1]
    flat, t = logits.reshape(-1, V).astype(np.float64), targets.reshape(-1).astype(np.int64)
    keep = t != ignore_index
    total, count = nll(flat, t, ignore_index)
    grad = np.exp(log_softmax(flat))
    grad[np.arange(len(t)), np.where(keep, t, 0)] -= keep
    grad *= keep[:, None] / max(count, 1)  # d mean / d logits
    return ({"ignore_index": ignore_index, "count": count, "sum": total, "mean": total / count if count else float("nan")},
            {"targets": t, "logits": flat, "grad": grad})


def pack(cases: list[tuple[dict, dict]]) -> tuple[dict, dict]:
    """(header fields, arrays) for a request that installs the judged loss."""
    arrays = {f"case{i}_{name}": value for i, (_, a) in enumerate(cases) for name, value in a.items()}
    return {"loss_cases": [header for header, _ in cases]}, arrays
