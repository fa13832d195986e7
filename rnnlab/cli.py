"""The ``rnnlab`` command: ``run`` (the experiment), ``sweep`` (the distance sweep), ``release`` (student
files), ``grade`` (a class)."""

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
    return dict(embedded_docs=256, embedded_valid_docs=64, max_train_lines=200, max_valid_lines=50, emb_dim=16, hidden_dim=32,
                epochs=1, max_steps=6, eval_every=3, batch_size=16)


DRY_RUN_DISTANCES = (4, 8)


def config_from_args(lab, args: argparse.Namespace):
    """The ``LabConfig`` the flags ask for (``--dry-run`` first, explicit flags over it)."""
    overrides = dry_run_overrides() if args.dry_run else {}
    for field in dataclasses.fields(lab.LabConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            overrides[field.name] = value
    if args.models:
        overrides["models"] = tuple(args.models.split(","))
    return lab.LabConfig(**overrides)


def run_lab(args: argparse.Namespace, work) -> int:
    """Import the implementation, build the config, run ``work(lab, cfg)``; lab errors become one message."""
    lab = import_lab(args.impl)
    try:
        cfg = config_from_args(lab, args)
        print(f"rnnlab {args.command}: data={cfg.data} models={','.join(cfg.models)} "
              f"device={lab.resolve_device(cfg.device)} -> {args.out}", flush=True)
        work(lab, cfg)
    except lab.LabSetupError as err:
        print(f"rnnlab {args.command}: {err}", file=sys.stderr)
        return 2
    except NotImplementedError as err:
        print(f"rnnlab {args.command}: {args.impl} is not finished: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    def work(lab, cfg):
        results = lab.run_experiment(cfg, args.out, progress=not args.no_progress)
        print(lab.format_table(results))
        print("\nclaims checked on this run:\n" + lab.format_claims(results["claims"]))
        print(f"wrote {args.out}/summary.json, summary.txt and plots (*.png) in {results['wall_seconds']:.0f} s")
    return run_lab(args, work)


def cmd_sweep(args: argparse.Namespace) -> int:
    def work(lab, cfg):
        distances = (tuple(int(d) for d in args.distances.split(",")) if args.distances
                     else DRY_RUN_DISTANCES if args.dry_run else lab.SWEEP_DISTANCES)
        sweep = lab.run_sweep(cfg, distances, args.out, progress=not args.no_progress)
        print(lab.format_sweep_table(sweep))
        print("\nclaims checked on this sweep:\n" + lab.format_claims(sweep["claims"]))
        print(f"wrote {args.out}/sweep.json, sweep.txt and sweep.png in {sweep['wall_seconds']:.0f} s")
    return run_lab(args, work)


def add_config_args(p: argparse.ArgumentParser) -> None:
    """Flags shared by ``run`` and ``sweep``: each sets the ``LabConfig`` field of its name."""
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--impl", default=str(SOLUTION_DIR), help="folder with rnn_lm.py and lab_support.py "
                                                             "(default: the reference solution)")
    p.add_argument("--models", help="comma-separated subset of rnn,lstm,lstm_fb1")
    p.add_argument("--device", help="auto (default: CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", dest="max_steps", type=int)
    p.add_argument("--eval-every", dest="eval_every", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--lr-decay", dest="lr_decay", type=float,
                   help="last fraction of the steps over which lr falls linearly to 0 (default 1/3; 0: constant)")
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--vocab-size", dest="vocab_size", type=int)
    p.add_argument("--emb-dim", dest="emb_dim", type=int)
    p.add_argument("--hidden-dim", dest="hidden_dim", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bfloat16 autocast for training steps (--no-bf16: float32)")
    p.add_argument("--dry-run", action="store_true", help="a tiny, seconds-long run of the whole pipeline")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_run_parser(sub) -> None:
    p = sub.add_parser("run", help="train the models and write the summary table and plots",
                       description="Train the vanilla RNN and the LSTMs under one config; write summary.json, "
                                   "summary.txt and PNG plots to --out.")
    p.add_argument("--data", help="embedded (default, offline), wikitext (Hugging Face, network) or a folder "
                                  "with train.txt (or test.txt) and valid.txt")
    p.add_argument("--seq-len", dest="seq_len", type=int)
    add_config_args(p)
    p.set_defaults(func=cmd_run)


def add_sweep_parser(sub) -> None:
    p = sub.add_parser("sweep", help="recall and gradients against the dependency's distance (embedded corpus)",
                       description="Train every model on the recall corpus at each distance, the window just "
                                   "long enough for one dependency; write sweep.json, sweep.txt and sweep.png.")
    p.add_argument("--distances", help="comma-separated fillers between the name and recall "
                                       "(default: 10,20,30,40,90)")
    add_config_args(p)
    p.set_defaults(func=cmd_sweep)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    add_sweep_parser(sub)
    release.add_parser(sub)
    grade.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
