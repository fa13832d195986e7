"""Vanishing gradients: vanilla RNN vs LSTM language models.

The one file you edit in this lab. It holds

* ``AUTHORS``: your team's names, which you fill in below;
* given code: the vocabulary, the windowed dataset, the training loop;
* your tasks, each marked ``TODO (Task N)``:

  1. ``VanillaRNNLM``: an embedding, an ``nn.RNNCell`` unrolled over time, a decoder.
  2. ``LSTMLM``: the same language model around a fused ``nn.LSTM``.
  3. ``lm_loss``: next-token cross-entropy that ignores padding.
  4. ``evaluate``: token-weighted loss and perplexity.
  5. ``l2_grad_norm_recurrent``: the norm of the recurrent weights' gradient.
  6. ``gradient_through_time``: how much gradient reaches k steps back.

Shapes: B batch, T time steps, E embedding size, H hidden size, V vocabulary size.

What is graded is what each docstring states: names, signatures, shapes, values, and what a
function must leave unchanged. The ``TODO`` lines are hints, one way to get there: you may solve
a task another way unless its docstring says otherwise.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

# Your team: one string per member, e.g. "Ada Lovelace (student ID 1234567, GitHub @ada)"; working
# alone, just your own.
# The grader reads this list without running your code, so keep it a plain list of strings in
# quotes; it puts the names next to your grade (an empty list costs no points).
AUTHORS: list[str] = []

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


# ----------------------------------------------------------------------------
# Given: vocabulary and data
# ----------------------------------------------------------------------------

def tokenize(text: str) -> list[str]:
    """Lower-cased whitespace tokens."""
    return text.lower().split()


def build_vocab(texts: Iterable[str], max_tokens: int = 20000) -> tuple[dict[str, int], list[str]]:
    """Build the vocabulary of the most frequent tokens.

    Inputs:
    - texts: iterable of strings (one document each).
    - max_tokens: size cap of the vocabulary, the two special tokens included.

    Returns:
    - stoi: dict token -> id, with ``<pad>`` = 0 and ``<unk>`` = 1.
    - itos: list id -> token; ``len(itos) == len(stoi)``.

    Tokens are ordered by frequency, ties alphabetically. A literal ``<unk>``
    or ``<pad>`` in the text (WikiText marks rare words with ``<unk>``) is the
    special token itself, never a second entry.
    """
    if max_tokens < 2:
        raise ValueError(f"max_tokens must be at least 2 (for {PAD} and {UNK}), got {max_tokens}")
    counts = Counter(tok for text in texts for tok in tokenize(text))
    for special in (PAD, UNK):
        counts.pop(special, None)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    itos = [PAD, UNK] + [tok for tok, _ in ranked[: max_tokens - 2]]
    stoi = {tok: i for i, tok in enumerate(itos)}
    return stoi, itos


def encode(text: str, stoi: dict[str, int]) -> list[int]:
    """Token ids of ``text``; unknown tokens map to ``<unk>``."""
    unk = stoi[UNK]
    return [stoi.get(tok, unk) for tok in tokenize(text)]


def encode_corpus(texts: Iterable[str], stoi: dict[str, int]) -> list[int]:
    """One id stream for many documents (empty lines contribute nothing)."""
    return [i for text in texts for i in encode(text, stoi)]


class LMDataset(Dataset):
    """Next-token windows over one id stream.

    Window ``j`` starts at ``j * stride``: ``x = ids[s : s+T]``, ``y = ids[s+1 : s+T+1]``.

    The default stride is ``seq_len``: windows do not overlap, so an epoch
    sees every token once and evaluation scores every token once. (Stride 1,
    a window at every offset, makes an epoch ``seq_len`` times longer and
    scores each token up to ``seq_len`` times, for no new information.)
    With ``pad_last=True`` the tail that does not fill a whole window becomes
    one more window padded with ``pad_id``; those targets are ignored by the
    loss, so every token is still scored exactly once.
    """

    def __init__(self, ids: Sequence[int], seq_len: int = 30, stride: int | None = None,
                 pad_id: int = PAD_ID, pad_last: bool = True):
        if seq_len < 1:
            raise ValueError(f"seq_len must be positive, got {seq_len}")
        self.ids = torch.as_tensor(list(ids), dtype=torch.long)
        self.seq_len = seq_len
        self.stride = seq_len if stride is None else stride
        if self.stride < 1:
            raise ValueError(f"stride must be positive, got {self.stride}")
        n_pred = len(self.ids) - 1  # number of (input, target) pairs in the stream
        if n_pred < 1:
            raise ValueError("the id stream needs at least two tokens to make one window")
        full = 0 if n_pred < seq_len else (n_pred - seq_len) // self.stride + 1
        covered = (full - 1) * self.stride + seq_len if full else 0
        self.n_windows = full + (1 if pad_last and covered < n_pred else 0)
        self.pad_id = pad_id

    def __len__(self) -> int:
        return self.n_windows

    def __getitem__(self, j: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= j < self.n_windows:
            raise IndexError(j)
        s = j * self.stride
        chunk = self.ids[s : s + self.seq_len + 1]
        if len(chunk) < self.seq_len + 1:  # the padded last window
            chunk = F.pad(chunk, (0, self.seq_len + 1 - len(chunk)), value=self.pad_id)
        return chunk[:-1], chunk[1:]


# ----------------------------------------------------------------------------
# Task 1: vanilla RNN language model
# ----------------------------------------------------------------------------

class VanillaRNNLM(nn.Module):
    """Embedding -> tanh RNN cell unrolled over time -> linear decoder.

    Attributes (the autograder reads them by name):
    - emb: ``nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)``
    - rnn_cell: ``nn.RNNCell(emb_dim, hidden_dim, nonlinearity="tanh")``
    - fc: ``nn.Linear(hidden_dim, vocab_size)``
    - hidden_dim: int

    These three modules must be the model's only parameters: the grader loads its own weights
    into them and compares what the model computes with a reference. Keep PyTorch's default
    initialisation (no custom init here): a check measures, on your own model as built, how much
    gradient reaches 20 steps back at initialisation.
    """

    def __init__(self, vocab_size: int, emb_dim: int = 128, hidden_dim: int = 256, pad_idx: int = PAD_ID):
        super().__init__()
        # BEGIN SOLUTION Task 1: implement VanillaRNNLM.__init__
        # TODO: create self.emb, self.rnn_cell, self.fc and self.hidden_dim as described above.
        self.hidden_dim = hidden_dim
        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        self.rnn_cell = nn.RNNCell(emb_dim, hidden_dim, nonlinearity="tanh")
        self.fc = nn.Linear(hidden_dim, vocab_size)
        # END SOLUTION

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the RNN over a batch of token ids.

        Inputs:
        - x: (B, T) int64 token ids, T >= 1.
        - h0: (B, H) initial hidden state, or None for zeros.

        Returns:
        - logits: (B, T, V) unnormalised scores (no softmax; float32, or bfloat16
          under autocast) for the next token at every step; step t depends on
          x[:, :t+1] only, and each sequence of the batch on its own inputs only.
        - h_T: (B, H) hidden state after the last step (pass it back as h0 to
          continue the sequence: two halves then give exactly one whole pass).

        Runs on whatever device ``x`` is on (a GPU too): create a new tensor next to an
        existing float one, never on a fixed device. The zero hidden state is float32, like
        the embeddings: ``e.new_zeros(B, H)`` with ``e = self.emb(x)``, or
        ``torch.zeros(B, H, device=x.device)`` (not ``x.new_zeros``: ``x`` holds int64 ids,
        so its new tensors are int64 too).
        """
        # BEGIN SOLUTION Task 1: implement VanillaRNNLM.forward
        # TODO: embed x into e, start from h0 or from e.new_zeros(B, H) (float, on e's device), loop
        # over t calling self.rnn_cell(e[:, t], h), stack the hidden states into (B, T, H) and decode
        # them with self.fc.
        B, T = x.shape
        e = self.emb(x)  # (B, T, E)
        h = e.new_zeros(B, self.hidden_dim) if h0 is None else h0  # (B, H)
        states = []
        for t in range(T):
            h = self.rnn_cell(e[:, t], h)  # (B, H)
            states.append(h)
        hs = torch.stack(states, dim=1)  # (B, T, H)
        return self.fc(hs), h  # decode all steps at once: (B, T, V)
        # END SOLUTION


# ----------------------------------------------------------------------------
# Task 2: LSTM language model
# ----------------------------------------------------------------------------

class LSTMLM(nn.Module):
    """Embedding -> one-layer ``nn.LSTM`` (batch_first) -> linear decoder.

    Attributes (the autograder reads them by name):
    - emb: ``nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)``
    - lstm: ``nn.LSTM(emb_dim, hidden_dim, batch_first=True)``: one layer, one direction
    - fc: ``nn.Linear(hidden_dim, vocab_size)``
    - hidden_dim: int

    As for ``VanillaRNNLM``: these modules are the only parameters (the grader loads its own
    weights into them), and PyTorch's default initialisation stays (the forget-gate bias is set
    outside the class, by ``set_forget_gate_bias``, for the experiment that asks for it).
    """

    def __init__(self, vocab_size: int, emb_dim: int = 128, hidden_dim: int = 256, pad_idx: int = PAD_ID):
        super().__init__()
        # BEGIN SOLUTION Task 2: implement LSTMLM.__init__
        # TODO: create self.emb, self.lstm (batch_first!), self.fc and self.hidden_dim.
        self.hidden_dim = hidden_dim
        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, vocab_size)
        # END SOLUTION

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run the LSTM over a batch of token ids.

        Inputs:
        - x: (B, T) int64 token ids, T >= 1.
        - state: ``(h_0, c_0)``, each (1, B, H), or None for zeros.

        Returns:
        - logits: (B, T, V) unnormalised next-token scores (no softmax; float32, or
          bfloat16 under autocast) at every step; causal, each sequence independent
          of the others.
        - (h_n, c_n): each (1, B, H), the state after the last step (as ``nn.LSTM``
          returns it; passed back as ``state`` it continues the sequence exactly).

        Runs on whatever device ``x`` is on, as ``VanillaRNNLM`` does.
        """
        # BEGIN SOLUTION Task 2: implement LSTMLM.forward
        # TODO: embed x, run self.lstm with the given state, decode every step with self.fc.
        out, (h_n, c_n) = self.lstm(self.emb(x), state)  # out: (B, T, H)
        return self.fc(out), (h_n, c_n)  # (B, T, V)
        # END SOLUTION


def set_forget_gate_bias(lstm: nn.LSTM, value: float = 1.0) -> None:
    """Given: make an LSTM's forget gates start open (Jozefowicz et al., 2015).

    PyTorch orders the gates input, forget, cell, output, so the forget gate is
    the second quarter of each bias vector. The two biases are summed inside
    the cell, so we put ``value`` in one and zero in the other.
    """
    H = lstm.hidden_size
    with torch.no_grad():
        for layer in range(lstm.num_layers):
            getattr(lstm, f"bias_ih_l{layer}")[H : 2 * H].fill_(value)
            getattr(lstm, f"bias_hh_l{layer}")[H : 2 * H].zero_()


# ----------------------------------------------------------------------------
# Task 3: language-model loss
# ----------------------------------------------------------------------------

def lm_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = PAD_ID,
            reduction: str = "mean") -> torch.Tensor:
    """Next-token cross-entropy that ignores padded targets.

    Inputs:
    - logits: (B, T, V) unnormalised, finite scores, on any device, not always
      contiguous (a transpose, say: ``.reshape`` works where ``.view`` fails).
    - targets: (B, T) int64 token ids; positions equal to ``ignore_index`` are
      padding and contribute nothing, whatever the (finite) logits there.
    - ignore_index: the pad id: not always 0, and not always a token id (PyTorch's
      convention is -100, outside ``[0, V)``).
    - reduction: ``"mean"`` (average over non-pad targets) or ``"sum"``.

    Returns:
    - a scalar tensor, differentiable with respect to ``logits`` (no ``.item()``
      or ``.detach()``: training calls ``.backward()`` on it). For bfloat16
      logits (the lab trains its LSTMs under bfloat16 autocast) a bfloat16 or a
      float32 loss is as good: it is compared at bfloat16's precision.

    The grader always gives at least one non-pad target. With none, the mean is
    undefined: NaN (what ``F.cross_entropy`` returns) is fine, and so is an error.
    ``F.cross_entropy`` (the hint) is one way; ``log_softmax`` with ``nll_loss``,
    or your own code, is as good.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    # BEGIN SOLUTION Task 3: implement lm_loss
    # TODO: flatten logits to (B*T, V) and targets to (B*T,) and use F.cross_entropy
    # with ignore_index and reduction.
    V = logits.size(-1)
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1),
                           ignore_index=ignore_index, reduction=reduction)
    # END SOLUTION


# ----------------------------------------------------------------------------
# Task 4: evaluation
# ----------------------------------------------------------------------------

def evaluate(model: nn.Module, data_loader: Iterable, pad_id: int = PAD_ID) -> tuple[float, float]:
    """Token-weighted loss and perplexity of a model over a data set.

    Inputs:
    - model: a language model whose ``forward(x)`` returns ``(logits, state)``.
    - data_loader: any iterable of ``(x, y)`` batches (a DataLoader, a list, a
      generator: go through it once), each (B, T) int64; batches may differ in
      size and in how many targets are padding.
    - pad_id: targets equal to it are ignored (not always 0).

    Returns:
    - mean_loss: total loss over all non-pad targets divided by their number:
      every target weighs the same, whatever its batch. A Python float.
    - perplexity: ``exp(mean_loss)`` (natural exponential), a Python float.

    Runs the model in eval mode (every submodule too) and without gradients (no
    autograd graph). It may be called inside ``torch.no_grad()`` or outside it, and
    leaves gradient tracking on or off as the caller had it. It leaves the parameters
    (a frozen one stays frozen), their ``.grad`` and the train/eval mode of the model
    and of each submodule as it found them: a model in train mode is in train mode
    again afterwards, and a submodule the caller had put in eval mode (a frozen
    embedding, say) is in eval mode again, so ``model.train(was_training)``, which
    gives every submodule the model's mode, is not enough.
    With no non-pad target at all (an empty loader, say) the mean is undefined:
    raise a ``ValueError`` that says so (the grader does not test this case).

    The loss may come from ``lm_loss`` (Task 3) or your own cross-entropy. The
    checks of this task run with a correct ``lm_loss`` of their own, so they do
    not depend on your Task 3; if you call it, call it on a whole batch: the
    logits as the model returns them (reshaped if you like) and that batch's
    targets, as the hint does.
    """
    # BEGIN SOLUTION Task 4: implement evaluate
    # TODO: note each module's own mode ([(m, m.training) for m in model.modules()]), then in eval mode
    # and without gradients add up lm_loss(..., reduction="sum") and the number of non-pad targets over
    # all batches; at the end set each module's .training back to the mode you noted.
    modes = [(module, module.training) for module in model.modules()]  # the model first, then each submodule
    model.eval()
    total_loss, total_tokens = 0.0, 0
    with torch.no_grad():
        for x, y in data_loader:
            logits, _ = model(x)
            total_loss += lm_loss(logits, y, ignore_index=pad_id, reduction="sum").item()
            total_tokens += int((y != pad_id).sum())
    for module, was_training in modes:  # one flag each: module.train(mode) would also reset its submodules
        module.training = was_training
    if total_tokens == 0:
        raise ValueError("evaluate: the data has no non-pad targets")
    mean_loss = total_loss / total_tokens
    return mean_loss, math.exp(mean_loss)
    # END SOLUTION


# ----------------------------------------------------------------------------
# Task 5: gradient tracking
# ----------------------------------------------------------------------------

def l2_grad_norm_recurrent(model: nn.Module) -> float:
    """L2 norm of the gradients of the recurrent weights.

    Inputs:
    - model: any module after ``loss.backward()``; its recurrent weights are the
      parameters whose name contains ``weight_hh`` (``rnn_cell.weight_hh``,
      ``lstm.weight_hh_l0``, ``lstm.weight_hh_l1``, ...).

    Returns:
    - a Python float (not a tensor, not a NumPy number): the square root of the
      sum of squared gradient entries over every such parameter that has a
      gradient, all entries together (not a sum of per-parameter norms); 0.0 if
      none has a gradient or the model has no such parameter.

    A parameter shared under several names counts once, under the name
    ``model.named_parameters()`` gives it (the lab's models share none).

    Leaves every ``.grad`` as it was.
    """
    # BEGIN SOLUTION Task 5: implement l2_grad_norm_recurrent
    # TODO: loop over model.named_parameters(), keep "weight_hh" parameters with a .grad,
    # add up the squared entries and return the square root as a float.
    total = 0.0
    for name, p in model.named_parameters():
        if "weight_hh" in name and p.grad is not None:
            total += p.grad.detach().double().pow(2).sum().item()
    return math.sqrt(total)
    # END SOLUTION


# ----------------------------------------------------------------------------
# Task 6: gradient through time
# ----------------------------------------------------------------------------

def gradient_through_time(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                          pad_id: int = PAD_ID) -> torch.Tensor:
    """How much of the last step's gradient reaches each earlier input.

    Let ``L_T`` be the loss of the last time step only (``lm_loss`` on
    ``logits[:, -1:]`` and ``y[:, -1:]`` with ``ignore_index=pad_id``: the mean
    over the batch's non-pad last targets) and ``e_t = model.emb(x)[:, t]`` the
    embedding that enters the recurrence at step t. This returns
    ``g[k] = || dL_T / d e_{T-1-k} ||`` (the L2 norm over batch and
    embedding), for k = 0 .. T-1: the gradient that travels k steps back.

    It works for any model with a trained ``emb`` submodule, fused ``nn.LSTM``
    too, because it differentiates with respect to the embedding output. It is
    not asked to work inside ``torch.no_grad()`` or on a frozen embedding.

    Inputs:
    - model: a language model with an ``emb`` attribute, called as ``model(x)``.
    - x, y: (B, T) int64 inputs and targets, T >= 1.
    - pad_id: last-step targets equal to it are ignored.

    Returns:
    - g: (T,) float tensor (float32, or float64 if you compute in it) on the
      device of ``x``, ``g[0]`` the last step's own input (k = 0), ``g[T-1]``
      the first input's: reversed time order.

    Leaves every parameter's ``.grad`` as it was (``L_T.backward()`` would fill
    them), and leaves no hook on the model, even when the forward pass raises
    (a hook left behind keeps every later embedding output alive). Runs on the
    device of ``x``. The hint's forward hook and ``torch.autograd.grad`` are one
    way; any other that leaves ``.grad`` alone is as good. It need not change
    the model's train/eval mode (the lab's models compute the same in both); if
    it does, it puts each module's own mode back, even when the forward pass
    raises. ``L_T`` may come from ``lm_loss`` (Task 3; the checks of this task
    run with a correct one of their own) or your own cross-entropy; if you call
    it, call it on the last step's logits, as the model returns them, and targets.
    """
    # BEGIN SOLUTION Task 6: implement gradient_through_time
    # TODO: capture the embedding output with a forward hook on model.emb, compute L_T,
    # take torch.autograd.grad of L_T with respect to it and reduce to norms, k = 0 first.
    captured = []
    handle = model.emb.register_forward_hook(lambda module, inputs, output: captured.append(output))
    try:
        logits, _ = model(x)
    finally:
        handle.remove()
    e = captured[0]  # (B, T, E)
    last_loss = lm_loss(logits[:, -1:], y[:, -1:], ignore_index=pad_id)
    (grad_e,) = torch.autograd.grad(last_loss, e)  # (B, T, E)
    norms = grad_e.detach().pow(2).sum(dim=(0, 2)).sqrt()  # (T,), t = 0 .. T-1
    return norms.flip(0)  # k = T-1-t
    # END SOLUTION


# ----------------------------------------------------------------------------
# Given: training
# ----------------------------------------------------------------------------

BAR_UPDATES = 20  # progress-bar updates per training run

def train_model(model: nn.Module, train_loader: DataLoader, valid_loader: DataLoader | None = None,
                epochs: int = 2, lr: float = 3e-3, clip: float | None = 1.0, eval_every: int = 0,
                max_steps: int | None = None, bf16: bool = False, progress: bool = True,
                name: str = "model", lr_decay: float = 0.0) -> dict:
    """The shared training loop: Adam, next-token loss, gradient clipping.

    The learning rate is ``lr``, and over the last ``lr_decay`` (a fraction) of the steps it
    falls linearly to 0 (``lr_decay=0``: constant).
    Every step logs the loss, its perplexity and ``l2_grad_norm_recurrent``
    (measured before clipping, so it is the gradient the loss produced).
    Validation runs every ``eval_every`` steps (0: never) and after every epoch.
    Each batch starts from a zero state: the windows are shuffled, so the state
    at the end of one window says nothing about the next one. Batches come on
    the model's device (the lab's loaders move them), and bf16 autocasts on it.

    Returns a history dict: ``step_loss``, ``step_ppl``, ``step_grad_norm``
    (lists, one entry a step) and ``valid`` (list of dicts step/epoch/loss/ppl).
    """
    # Plain-text bars (not notebook widgets): they render in a saved notebook and on GitHub too.
    from tqdm import tqdm  # given code only: the tasks above need no extra package

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"step_loss": [], "step_ppl": [], "step_grad_norm": [], "valid": []}
    total = epochs * len(train_loader) if max_steps is None else min(max_steps, epochs * len(train_loader))
    decay_steps = round(lr_decay * total)
    # The factor of lr for the next step, given the steps done: 1, then linearly down to 0 after the last.
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda done: min(1.0, (total - done) / decay_steps) if decay_steps else 1.0)
    # Updated by steps, never by time: at most BAR_UPDATES updates a bar, so a
    # saved notebook stays small whatever the machine's speed. Left to its own clock, tqdm prints
    # every step once steps get slow.
    every = max(total // BAR_UPDATES, 1)
    bar = tqdm(total=total, desc=f"train {name}", disable=not progress, mininterval=0, miniters=1,
               maxinterval=float("inf"))

    def validate(step: int, epoch: float) -> None:
        if valid_loader is None:
            return
        loss, ppl = evaluate(model, valid_loader)
        history["valid"].append({"step": step, "epoch": epoch, "loss": loss, "ppl": ppl})
        bar.set_postfix(valid_ppl=f"{ppl:.1f}", refresh=False)

    step = 0
    model.train()
    for epoch in range(epochs):
        for x, y in train_loader:
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
                logits, _ = model(x)
            loss = lm_loss(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = l2_grad_norm_recurrent(model)
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            schedule.step()
            step += 1
            loss_value = loss.item()
            history["step_loss"].append(loss_value)
            history["step_ppl"].append(math.exp(min(loss_value, 50.0)))  # capped: a diverging run stays plottable
            history["step_grad_norm"].append(grad_norm)
            if step % every == 0 or step == total:
                bar.update(step - bar.n)
            if eval_every and step % eval_every == 0:
                validate(step, step / len(train_loader))
            if step == total:
                break
        if not (eval_every and step % eval_every == 0):
            validate(step, step / len(train_loader))
        if step == total:
            break
    bar.close()
    return history


def train_rnn(model: VanillaRNNLM, train_loader: DataLoader, valid_loader: DataLoader | None = None,
              **kwargs) -> dict:
    """Train a ``VanillaRNNLM`` with the shared loop (see ``train_model``)."""
    return train_model(model, train_loader, valid_loader, name="rnn", **kwargs)


def train_lstm(model: LSTMLM, train_loader: DataLoader, valid_loader: DataLoader | None = None,
               **kwargs) -> dict:
    """Train an ``LSTMLM`` with the shared loop (see ``train_model``)."""
    return train_model(model, train_loader, valid_loader, name="lstm", **kwargs)
