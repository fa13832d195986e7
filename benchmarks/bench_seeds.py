"""Benchmark: the lab's claims over seeds. Writes ``solution/seeds/seeds.json`` and ``seeds.txt``.

    .venv/bin/python benchmarks/bench_seeds.py [--seeds 10] [--sweep-seeds 3] [--jobs 2]

Runs the default experiment (`run_experiment(LabConfig(seed=s))`, the notebook's cell) on seeds
0 .. N-1, the distance sweep on seeds 0 .. M-1, and the experiment with the models' layers created
in reverse order (a student's equally correct model draws other initial weights: another seed, in
effect) on seeds 0 and 1. Each claim's numbers are written as a range over the seeds, with how
many seeds it held on (`claim_ranges`); the README and the notebook quote them, and
`tests/test_claims.py` checks that every claim holds on at least 9 runs in 10.

Runs go to `--jobs` worker processes of `--threads` threads each (default 2 x 1 on 2 cores); each
run's numbers are kept in `--work` as it finishes, so an interrupted benchmark resumes where it
stopped (delete the folder to start over). The default sweep of seed 0 is the course's: it is
written to `solution/sweep/` too. The project's longest benchmark: 3 sweeps (each about 10
minutes on 2 idle cores) and 12 experiments.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "solution"))

import torch  # noqa: E402

import lab_support  # noqa: E402
import rnn_lm  # noqa: E402

LAYER_ORDER_SEEDS = (0, 1)


def claim_ranges(runs: list[list[dict]]) -> dict:
    """Each claim over several runs (seeds): on how many it held, and the range of each of its numbers."""
    ranges = {}
    for claims in runs:
        for c in claims:
            r = ranges.setdefault(c["id"], {"held": 0, "runs": 0, "numbers": {}})
            r["held"] += c["holds"]
            r["runs"] += 1
            for key, value in c["numbers"].items():
                low, high = r["numbers"].get(key, (value, value))
                r["numbers"][key] = [min(low, value), max(high, value)]
    return ranges


class ReversedVanillaRNNLM(rnn_lm.VanillaRNNLM):
    """The reference RNN with its layers created decoder first: the same model, other initial weights."""

    def __init__(self, vocab_size, emb_dim=128, hidden_dim=256, pad_idx=rnn_lm.PAD_ID):
        torch.nn.Module.__init__(self)
        self.hidden_dim = hidden_dim
        self.fc = torch.nn.Linear(hidden_dim, vocab_size)
        self.rnn_cell = torch.nn.RNNCell(emb_dim, hidden_dim, nonlinearity="tanh")
        self.emb = torch.nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)


class ReversedLSTMLM(rnn_lm.LSTMLM):
    """The reference LSTM with its layers created decoder first."""

    def __init__(self, vocab_size, emb_dim=128, hidden_dim=256, pad_idx=rnn_lm.PAD_ID):
        torch.nn.Module.__init__(self)
        self.hidden_dim = hidden_dim
        self.fc = torch.nn.Linear(hidden_dim, vocab_size)
        self.lstm = torch.nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.emb = torch.nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)


def run(kind: str, seed: int, threads: int) -> dict:
    """One run in a worker: ``kind`` is experiment, sweep or reversed (the experiment, layers reversed)."""
    torch.set_num_threads(threads)
    cfg = lab_support.LabConfig(seed=seed)
    if kind == "sweep":
        return lab_support.run_sweep(cfg, progress=False)
    classes = rnn_lm.VanillaRNNLM, rnn_lm.LSTMLM
    if kind == "reversed":  # build_model creates the models through these names
        rnn_lm.VanillaRNNLM, rnn_lm.LSTMLM = ReversedVanillaRNNLM, ReversedLSTMLM
    try:
        results = lab_support.run_experiment(cfg, progress=False)
    finally:
        rnn_lm.VanillaRNNLM, rnn_lm.LSTMLM = classes  # the worker runs other seeds next
    for r in results["models"].values():
        del r["history"]  # per-step series: the claims do not use them
    return results


def reword(runs: dict) -> None:
    """Each run's claims as the code now words and checks them, from its stored numbers."""
    for (kind, _), r in runs.items():
        r["claims"] = lab_support.check_sweep_claims(r) if kind == "sweep" else lab_support.check_claims(r)


def write_report(runs: dict, default: dict, out: Path) -> dict:
    """seeds.json and seeds.txt in ``out`` from the runs ((kind, seed) -> run); returns the report."""
    report = {"config": default}
    for kind in ("experiment", "sweep", "reversed"):
        kept = [r for (k, _), r in runs.items() if k == kind]
        report[kind] = {"seeds": [r["config"]["seed"] for r in kept], "runs": kept,
                        "claims": claim_ranges([r["claims"] for r in kept])}
    text = lab_support.format_seed_report(report)
    out.mkdir(parents=True, exist_ok=True)
    (out / "seeds.json").write_text(json.dumps(report, indent=1))
    (out / "seeds.txt").write_text(text + "\n")
    print(text)
    return report


def reword_shipped(out: Path) -> None:
    """``--reword``: the shipped runs' claims re-derived after a change of their wording alone; any
    other change (a verdict, a number) needs the runs made again."""
    shipped = json.loads((out / "seeds.json").read_text())
    runs = {(kind, r["config"]["seed"]): r for kind in ("experiment", "sweep", "reversed") for r in shipped[kind]["runs"]}
    before = {key: [(c["id"], c["holds"], c["numbers"]) for c in r["claims"]] for key, r in runs.items()}
    reword(runs)
    moved = [f"{kind} seed {seed}" for (kind, seed), r in runs.items()
             if [(c["id"], c["holds"], c["numbers"]) for c in r["claims"]] != before[kind, seed]]
    if moved:
        raise SystemExit(f"bench_seeds --reword: more than the wording changed ({', '.join(moved[:5])}): "
                         "run `make bench-seeds`")
    write_report(runs, shipped["config"], out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10, help="experiment seeds: 0 .. N-1")
    ap.add_argument("--sweep-seeds", type=int, default=3, help="sweep seeds: 0 .. M-1")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--threads", type=int, default=1, help="PyTorch threads a worker")
    ap.add_argument("--work", default="results/bench_seeds", help="each finished run's numbers (resumable)")
    ap.add_argument("--out", default=str(REPO / "solution" / "seeds"), help="where seeds.json and seeds.txt go")
    ap.add_argument("--report-only", action="store_true", help="run nothing: report the runs kept in --work")
    ap.add_argument("--reword", action="store_true",
                    help="run and measure nothing: the claims of the runs in --out re-derived by the code as it now "
                         "words them (after a change of wording only)")
    args = ap.parse_args()
    if args.reword:
        reword_shipped(Path(args.out))
        return
    from docs_figures import machine, write_results  # benchmarks/, this script's folder

    measured_on = machine()  # before it starts: the load average is of what else ran
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    wanted = ([("sweep", s) for s in range(args.sweep_seeds)]  # the longest first: the workers end together
              + [("experiment", s) for s in range(args.seeds)] + [("reversed", s) for s in LAYER_ORDER_SEEDS])
    default = json.loads(json.dumps(lab_support.LabConfig().to_dict()))  # as stored: lists, not tuples

    def done(kind: str, seed: int) -> dict | None:
        path = work / f"{kind}-{seed}.json"
        if not path.is_file():
            return None
        r = json.loads(path.read_text())
        return r if r["config"] == dict(default, seed=seed) else None  # made under another config: rerun

    runs = {(kind, seed): done(kind, seed) for kind, seed in wanted}
    todo = [] if args.report_only else [key for key, r in runs.items() if r is None]
    kept = sum(r is not None for r in runs.values())
    print(f"bench_seeds: {kept} runs kept from {work}, {len(todo)} to run", flush=True)
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run, kind, seed, args.threads): (kind, seed) for kind, seed in todo}
        for future in as_completed(futures):
            kind, seed = futures[future]
            r = runs[kind, seed] = future.result()
            (work / f"{kind}-{seed}.json").write_text(json.dumps(r))
            print(f"{kind} seed {seed}: {r['wall_seconds']:.0f} s, claims held "
                  f"{sum(c['holds'] for c in r['claims'])}/{len(r['claims'])}", flush=True)

    runs = {key: r for key, r in runs.items() if r is not None}
    reword(runs)
    if ("sweep", 0) in runs:
        lab_support.write_sweep(runs["sweep", 0], REPO / "solution" / "sweep")
    report = write_report(runs, default, Path(args.out))
    # Each run's time, and whether this invocation measured it (a run kept in --work was measured earlier).
    kinds = {kind: {"runs": {str(seed): {"wall_seconds": r["wall_seconds"], "measured_now": (kind, seed) in todo,
                                         "claims_held": sum(c["holds"] for c in r["claims"]),
                                         "claims": len(r["claims"])}
                             for (k, seed), r in runs.items() if k == kind},
                    "claims": report[kind]["claims"]}
             for kind in ("experiment", "sweep", "reversed")}
    written = [Path(args.out).resolve() / name for name in ("seeds.json", "seeds.txt")]
    results = write_results("seeds", {"jobs": args.jobs, "threads": args.threads, "kinds": kinds, "written": [
        p.relative_to(REPO).as_posix() if p.is_relative_to(REPO) else str(p) for p in written]}, measured_on)
    print(f"wrote {results.relative_to(REPO)}")


if __name__ == "__main__":
    main()
