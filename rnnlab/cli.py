"""The ``rnnlab`` command: ``run`` (the experiment), ``release`` (student files), ``grade`` (a class)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from pathlib import Path

from rnnlab import SOLUTION_DIR, grade, release


def import_lab(impl_dir: Path):
    """Import ``rnn_lm`` and ``lab_support`` from ``impl_dir`` (the solution by default)."""
    impl_dir = Path(impl_dir).resolve()
    if not (impl_dir / "rnn_lm.py").is_file():
        raise SystemExit(f"rnnlab: no rnn_lm.py in {impl_dir}")
    sys.path.insert(0, str(impl_dir))
    for name in ("rnn_lm", "lab_support"):
        sys.modules.pop(name, None)
    return importlib.import_module("lab_support")


def dry_run_overrides() -> dict:
    """A seconds-long smoke run of the whole pipeline."""
    return dict(embedded_docs=256, max_train_lines=200, max_valid_lines=50, emb_dim=16, hidden_dim=32,
                epochs=1, max_steps=6, eval_every=3, batch_size=16)


def cmd_run(args: argparse.Namespace) -> int:
    lab = import_lab(args.impl)
    overrides = dry_run_overrides() if args.dry_run else {}
    for field in dataclasses.fields(lab.LabConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            overrides[field.name] = value
    if args.models:
        overrides["models"] = tuple(args.models.split(","))
    cfg = lab.LabConfig(**overrides)
    out = Path(args.out)
    print(f"rnnlab run: data={cfg.data} models={','.join(cfg.models)} -> {out}", flush=True)
    try:
        results = lab.run_experiment(cfg, out, progress=not args.no_progress)
    except lab.DataSourceError as err:
        print(f"rnnlab run: {err}", file=sys.stderr)
        return 2
    except NotImplementedError as err:
        print(f"rnnlab run: {args.impl} is not finished: {err}", file=sys.stderr)
        return 2
    print(lab.format_table(results))
    print(f"wrote {out}/summary.json, summary.txt and plots (*.png)")
    return 0


def add_run_parser(sub) -> None:
    p = sub.add_parser("run", help="train the models and write the summary table and plots",
                       description="Train the vanilla RNN and the LSTMs under one config; write summary.json, "
                                   "summary.txt and PNG plots to --out.")
    p.add_argument("--data", help="embedded (default, offline), wikitext (Hugging Face, network) or a folder "
                                  "with train.txt (or test.txt) and valid.txt")
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--impl", default=str(SOLUTION_DIR), help="folder with rnn_lm.py and lab_support.py "
                                                             "(default: the reference solution)")
    p.add_argument("--models", help="comma-separated subset of rnn,lstm,lstm_fb1")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", dest="max_steps", type=int)
    p.add_argument("--eval-every", dest="eval_every", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--seq-len", dest="seq_len", type=int)
    p.add_argument("--vocab-size", dest="vocab_size", type=int)
    p.add_argument("--emb-dim", dest="emb_dim", type=int)
    p.add_argument("--hidden-dim", dest="hidden_dim", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--bf16", action="store_true", default=None, help="bfloat16 autocast for training steps")
    p.add_argument("--dry-run", action="store_true", help="a tiny, seconds-long run of the whole pipeline")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    release.add_parser(sub)
    grade.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
