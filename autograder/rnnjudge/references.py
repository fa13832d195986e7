"""Trusted references, computed in the judge from parameters and inputs as plain arrays.

Forward passes and losses in float64 NumPy; gradients through a float64 re-implementation in
plain tensor operations. Parameters use the canonical names of ``worker.PARAMETER_PATHS``:
``emb, W_ih, W_hh, b_ih, b_hh, W_fc, b_fc``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from . import secret

PARAMETER_NAMES = ("emb", "W_ih", "W_hh", "b_ih", "b_hh", "W_fc", "b_fc")


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def nll(logits: np.ndarray, targets: np.ndarray, ignore_index: int) -> tuple[float, int]:
    """(summed NLL over non-ignored targets, their count)."""
    logp = log_softmax(logits.reshape(-1, logits.shape[-1]))
    t = targets.reshape(-1)
    keep = t != ignore_index
    return float(-logp[np.arange(len(t))[keep], t[keep]].sum()), int(keep.sum())


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def rnn_forward(p: dict, x: np.ndarray, h0: np.ndarray | None):
    """float64 forward of the tanh RNN LM: (logits (B, T, V), (h_T,))."""
    E = p["emb"][x]  # (B, T, E)
    h = np.zeros((x.shape[0], p["W_hh"].shape[0])) if h0 is None else h0
    hs = []
    for t in range(x.shape[1]):
        h = np.tanh(E[:, t] @ p["W_ih"].T + p["b_ih"] + h @ p["W_hh"].T + p["b_hh"])
        hs.append(h)
    return np.stack(hs, 1) @ p["W_fc"].T + p["b_fc"], (h,)


def lstm_forward(p: dict, x: np.ndarray, state):
    """float64 forward of the LSTM LM (gates i, f, g, o): (logits, (h_T, c_T)), states (B, H)."""
    E = p["emb"][x]
    H = p["W_hh"].shape[1]
    h, c = (np.zeros((x.shape[0], H)),) * 2 if state is None else state
    hs = []
    for t in range(x.shape[1]):
        z = E[:, t] @ p["W_ih"].T + p["b_ih"] + h @ p["W_hh"].T + p["b_hh"]
        i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    return np.stack(hs, 1) @ p["W_fc"].T + p["b_fc"], (h, c)


def gru_forward(p: dict, x: np.ndarray, h0: np.ndarray | None):
    """float64 forward of a GRU LM (PyTorch's gates r, z, n): (logits, (h_T,)). The worker's fixture
    for Tasks 4 and 6: a recurrent LM that is neither Task 1's nor Task 2's answer."""
    E = p["emb"][x]
    H = p["W_hh"].shape[1]
    h = np.zeros((x.shape[0], H)) if h0 is None else h0
    hs = []
    for t in range(x.shape[1]):
        gi = E[:, t] @ p["W_ih"].T + p["b_ih"]
        gh = h @ p["W_hh"].T + p["b_hh"]
        r, z = sigmoid(gi[:, :H] + gh[:, :H]), sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        hs.append(h)
    return np.stack(hs, 1) @ p["W_fc"].T + p["b_fc"], (h,)


FORWARD = {"rnn": rnn_forward, "lstm": lstm_forward, "gru": gru_forward}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def torch_forward(kind: str, p: dict, e: torch.Tensor, state):
    """The same forward passes with autograd from the embeddings ``e`` (B, T, E), for gradient
    references: (logits, h_T)."""
    H = p["W_hh"].shape[1]
    B = e.shape[0]
    if kind == "lstm":
        h, c = (torch.zeros(B, H, dtype=torch.float64),) * 2 if state is None else state
    else:
        h = torch.zeros(B, H, dtype=torch.float64) if state is None else state
    hs = []
    for t in range(e.shape[1]):
        if kind == "gru":
            gi, gh = e[:, t] @ p["W_ih"].T + p["b_ih"], h @ p["W_hh"].T + p["b_hh"]
            r, u = torch.sigmoid(gi[:, :H] + gh[:, :H]), torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
            h = (1 - u) * torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:]) + u * h
            hs.append(h)
            continue
        z = e[:, t] @ p["W_ih"].T + p["b_ih"] + h @ p["W_hh"].T + p["b_hh"]
        if kind == "rnn":
            h = torch.tanh(z)
        else:
            i, f, g, o = z.split(H, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        hs.append(h)
    return torch.stack(hs, 1) @ p["W_fc"].T + p["b_fc"], h


def as_tensors(params: dict, requires_grad: bool = False) -> dict:
    return {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=requires_grad) for k, v in params.items()}


def last_step_loss(logits: torch.Tensor, y: np.ndarray, pad_id: int) -> torch.Tensor:
    """L_T: the mean NLL of the last step's non-pad targets (the lab's definition)."""
    return nn.functional.cross_entropy(logits[:, -1], torch.from_numpy(y[:, -1]), ignore_index=pad_id)


def gradient_through_time(kind: str, params: dict, x: np.ndarray, y: np.ndarray, pad_id: int = 0) -> np.ndarray:
    """||dL_T/de_{T-1-k}||, k = 0..T-1, in float64."""
    p = as_tensors(params)
    e = p["emb"][torch.from_numpy(x)].requires_grad_(True)
    logits, _ = torch_forward(kind, p, e, None)
    (g,) = torch.autograd.grad(last_step_loss(logits, y, pad_id), e)
    return norms_by_distance(g.numpy())


def norms_by_distance(grad_e: np.ndarray) -> np.ndarray:
    """(B, T, E) gradients -> their L2 norm per step, k = T-1-t (the last step's own input first)."""
    return np.sqrt((grad_e ** 2).sum(axis=(0, 2)))[::-1].copy()


def default_init(kind: str, V: int, E: int, H: int, seed: int) -> dict:
    """PyTorch's default initialisation of the lab's model under ``torch.manual_seed(seed)``,
    created in the skeleton's order (embedding, recurrence, decoder), as float64 arrays."""
    torch.manual_seed(seed)
    emb = nn.Embedding(V, E, padding_idx=0)
    if kind == "rnn":
        cell = nn.RNNCell(E, H)
        rec = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    else:
        lstm = nn.LSTM(E, H, batch_first=True)
        rec = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0]
    fc = nn.Linear(H, V)
    tensors = [emb.weight, *rec, fc.weight, fc.bias]
    return {name: t.detach().double().numpy() for name, t in zip(PARAMETER_NAMES, tensors)}


def random_params(kind: str, V: int, E: int, H: int, seed: int, scale: float = 0.5) -> dict:
    """float32-representable random parameters for a fixture model (pad row of emb zero), drawn
    under the course secret (``seed`` labels the draw)."""
    rng = secret.rng("params", kind, V, E, H, seed, scale)
    G = GATES[kind] * H
    shapes = {"emb": (V, E), "W_ih": (G, E), "W_hh": (G, H), "b_ih": (G,), "b_hh": (G,), "W_fc": (V, H), "b_fc": (V,)}
    params = {k: (rng.standard_normal(s) * scale).astype(np.float32) for k, s in shapes.items()}
    params["emb"][0] = 0.0
    return params


def tokens(B: int, T: int, V: int, seed: int, low: int = 1) -> np.ndarray:
    """(B, T) token ids in [low, V), drawn under the course secret (``seed`` labels the draw)."""
    return secret.rng("tokens", B, T, V, seed, low).integers(low, V, (B, T)).astype(np.int64)


def close(got: np.ndarray, want: np.ndarray, what: str, tol: float = 1e-4) -> None:
    """Equal within ``tol`` relative to 1 + |want| (so tiny values compare absolutely)."""
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    assert np.isfinite(got).all(), f"{what}: contains NaN or inf"
    err = float(np.max(np.abs(got - want) / (1.0 + np.abs(want)))) if want.size else 0.0
    assert err <= tol, f"{what}: differs from the reference (max relative error {err:.2e}, tolerance {tol:.0e})"
