"""Benchmark: the original notebook's pipeline against ours, on the same WikiText-2 text.

    .venv/bin/python benchmarks/bench_training.py [--data tests/data/wikitext-2] [--original-steps 400]

One process, same data (test.txt's first 2000 lines as training text, valid.txt's first
500 as validation), vocabulary cap 15000, seq 30, batch 64, emb 128, hidden 256.

The original pipeline (reconstructed): a window at every offset (stride 1), the RNN's
decoder applied inside the time loop, validation over stride-1 windows, RNN lr 1e-3 and
the LSTM at half of it. Ours: non-overlapping windows, the decoder applied once, lr 2e-3
(RNN) and 3e-3 (LSTM).

For each model it trains the original for --original-steps, measures its validation
perplexity (with our token-weighted evaluator over non-overlapping windows, so both sides
are scored on the same quantity), then trains ours until it reaches that perplexity,
checking every --check-every steps. Printed: seconds per training step, seconds per
validation pass, wall time to reach the target, and their ratios.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "solution"))
import lab_support  # noqa: E402
import rnn_lm  # noqa: E402


class OriginalRNNLM(rnn_lm.VanillaRNNLM):
    """The original notebook's RNN: the decoder runs inside the time loop, once per step."""

    def forward(self, x, h0=None):
        B, T = x.shape
        e = self.emb(x)
        h = e.new_zeros(B, self.hidden_dim) if h0 is None else h0
        logits = []
        for t in range(T):
            h = self.rnn_cell(e[:, t], h)
            logits.append(self.fc(h))
        return torch.stack(logits, dim=1), h


def build(name: str, vocab: int, original: bool) -> nn.Module:
    torch.manual_seed(0)
    if name == "rnn":
        return (OriginalRNNLM if original else rnn_lm.VanillaRNNLM)(vocab, 128, 256)
    return rnn_lm.LSTMLM(vocab, 128, 256)


def train_steps(model, batches, optimizer, n: int, bf16: bool) -> float:
    """Run n training steps; return the seconds they took."""
    model.train()
    start = time.perf_counter()
    for _ in range(n):
        x, y = next(batches)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits, _ = model(x)
        loss = rnn_lm.lm_loss(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return time.perf_counter() - start


def timed_eval(model, loader) -> tuple[float, float]:
    start = time.perf_counter()
    _, ppl = rnn_lm.evaluate(model, loader)
    return ppl, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO / "tests" / "data" / "wikitext-2"),
                    help="folder with test.txt (or train.txt) and valid.txt (default: the repository's WikiText-2 slices)")
    ap.add_argument("--original-steps", type=int, default=400)
    ap.add_argument("--check-every", type=int, default=10)
    ap.add_argument("--max-steps", type=int, default=1500, help="give up on ours after this many steps")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast for our training steps")
    ap.add_argument("--models", default="rnn,lstm")
    ap.add_argument("--lr-rnn", type=float, default=2e-3, help="our RNN's learning rate")
    ap.add_argument("--lr-lstm", type=float, default=3e-3, help="our LSTM's learning rate")
    args = ap.parse_args()
    from docs_figures import machine, write_results  # benchmarks/, this script's folder

    measured_on = machine()  # before it starts: the load average is of what else ran

    torch.set_num_threads(2)
    train_texts, valid_texts = lab_support.load_folder(args.data, 2000, 500)
    stoi, itos = rnn_lm.build_vocab(train_texts, max_tokens=15000)
    train_ids, valid_ids = rnn_lm.encode_corpus(train_texts, stoi), rnn_lm.encode_corpus(valid_texts, stoi)
    V = len(itos)
    orig_windows = rnn_lm.LMDataset(train_ids, 30, stride=1, pad_last=False)
    our_windows = rnn_lm.LMDataset(train_ids, 30)

    def batches(windows):
        """An endless, freshly seeded stream: every model sees its batches in the same order, whatever ran before."""
        loader = DataLoader(windows, 64, shuffle=True, generator=torch.Generator().manual_seed(0))
        while True:
            yield from loader

    orig_valid = DataLoader(rnn_lm.LMDataset(valid_ids, 30, stride=1, pad_last=False), 64)
    our_valid = DataLoader(rnn_lm.LMDataset(valid_ids, 30), 256)
    print(f"data: {len(train_ids)} train / {len(valid_ids)} valid tokens, vocabulary {V}; an epoch is "
          f"{math.ceil(len(orig_windows) / 64)} steps (original) vs {math.ceil(len(our_windows) / 64)} (ours)")
    lrs = {"rnn": (1e-3, args.lr_rnn), "lstm": (5e-4, args.lr_lstm)}  # (original, ours)

    rows, printed = [], {}
    for name in args.models.split(","):
        orig_lr, our_lr = lrs[name]
        model = build(name, V, original=True)
        opt = torch.optim.Adam(model.parameters(), lr=orig_lr)
        orig_train_s = train_steps(model, batches(orig_windows), opt, args.original_steps, bf16=False)
        target, _ = timed_eval(model, our_valid)
        orig_stride1_ppl, orig_eval_s = timed_eval(model, orig_valid)
        print(f"[{name}] original: {args.original_steps} steps in {orig_train_s:.1f}s, valid ppl {target:.1f} "
              f"(stride-1 evaluation: {orig_stride1_ppl:.1f} in {orig_eval_s:.1f}s)", flush=True)

        model = build(name, V, original=False)
        opt = torch.optim.Adam(model.parameters(), lr=our_lr)
        our_batches = batches(our_windows)
        our_train_s = our_eval_total = 0.0
        steps, reached, ppl = 0, False, math.inf
        while steps < args.max_steps:
            our_train_s += train_steps(model, our_batches, opt, args.check_every, bf16=args.bf16)
            steps += args.check_every
            ppl, eval_s = timed_eval(model, our_valid)
            our_eval_total += eval_s
            if ppl <= target:
                reached = True
                break
        _, our_eval_s = timed_eval(model, our_valid)
        print(f"[{name}] ours: {'reached' if reached else 'did NOT reach'} ppl {target:.1f} after {steps} steps "
              f"({ppl:.1f}); {our_train_s:.1f}s training + {our_eval_total:.1f}s of checks", flush=True)
        rows.append((name, args.original_steps, orig_train_s, orig_eval_s, target, steps, our_train_s,
                     our_eval_total, our_eval_s, reached))
        printed[name] = {"original_stride1_ppl": orig_stride1_ppl, "our_ppl": ppl}

    print("\nmodel  s/step orig  s/step ours  ratio  s/valid orig  s/valid ours  ratio  "
          "to target orig  ours(train)  ours(+checks)  ratio(train)  ratio(+checks)")
    for name, on, ot, oe, target, sn, st, se, se1, reached in rows:
        flag = "" if reached else "  (target not reached)"
        print(f"{name:5}  {ot / on:11.3f}  {st / sn:11.3f}  {ot / on / (st / sn):5.1f}  {oe:12.1f}  {se1:12.2f}  "
              f"{oe / se1:5.0f}  {ot:14.1f}  {st:11.1f}  {st + se:13.1f}  {ot / st:12.1f}  {ot / (st + se):14.1f}{flag}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak_mb:.0f} MB (bf16 autocast: {args.bf16})")
    data = Path(args.data).resolve()
    record = {
        "args": {"data": data.relative_to(REPO).as_posix() if data.is_relative_to(REPO) else str(data),
                 "original_steps": args.original_steps, "check_every": args.check_every, "max_steps": args.max_steps,
                 "bf16": args.bf16, "models": args.models, "lr_rnn": args.lr_rnn, "lr_lstm": args.lr_lstm},
        "data": {"train_tokens": len(train_ids), "valid_tokens": len(valid_ids), "vocab": V,
                 "steps_an_epoch_original": math.ceil(len(orig_windows) / 64),
                 "steps_an_epoch_ours": math.ceil(len(our_windows) / 64)},
        "models": {name: {"original_steps": on, "original_train_s": ot, "original_eval_s": oe, "target_ppl": target,
                          "our_steps": sn, "our_train_s": st, "our_checks_s": se, "our_eval_s": se1, "reached": reached,
                          **printed[name]}
                   for name, on, ot, oe, target, sn, st, se, se1, reached in rows},
        "peak_mb": peak_mb}
    out = write_results("training_bf16" if args.bf16 else "training", record, measured_on)
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
