"""Benchmark: how long the lab's experiment (and its sweep) take, where the time goes, peak memory.

    .venv/bin/python benchmarks/bench_lab.py [--repeat 2] [--fp32] [--compare] [--sweep]
    .venv/bin/python benchmarks/bench_lab.py --data tests/data/wikitext-2 --seeds 3   (make bench-lab)

Each run is a fresh child process (so its peak resident memory is its own) running
`lab_support.run_experiment` with the default `LabConfig()`: exactly the notebook's experiment
cell and `make lab`. Printed per run: wall time, each model's training time, the time of one
validation pass and of the probes, peak memory, and whether every claim held. `--compare` runs
the previous default in the same invocation (float32, batch 32, lr 1e-3, 3000 steps, validation
every 250 steps) and prints the ratio; `--fp32` runs the default config without bfloat16 (as on a
CPU without it); `--sweep` times `run_sweep` at its default distances. `--data FOLDER` runs the
default config on that folder's text instead (`LabConfig(data=FOLDER)`) and writes its own results
file, `benchmarks/results/lab_FOLDERNAME.json`, with the vocabulary and each claim as printed;
`--seeds N` runs seeds 0 .. N-1 once each instead of `--repeat` runs of seed 0.
Figures are for the machine it runs on: run it with nothing else running.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import torch
import lab_support, rnn_lm
kind, overrides = sys.argv[2], json.loads(sys.argv[3])
cfg = lab_support.LabConfig(**overrides)
out = {}
if kind == "experiment":
    start = time.perf_counter()
    data = lab_support.prepare_data(cfg)
    out["data_seconds"] = time.perf_counter() - start
    model = lab_support.build_model("lstm", len(data.itos), cfg)
    start = time.perf_counter()
    rnn_lm.evaluate(model, data.valid_loader(cfg))
    out["valid_pass_lstm_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    lab_support.probe_gradient(model, data.probe)
    out["probe_seconds"] = time.perf_counter() - start
    results = lab_support.run_experiment(cfg, progress=False)
    out["wall_seconds"] = results["wall_seconds"]
    out["train_seconds"] = {n: r["train_seconds"] for n, r in results["models"].items()}
    out["steps"] = next(iter(results["models"].values()))["steps"]
    out["claims"] = [c["holds"] for c in results["claims"]]
    out["claim_texts"] = [{"id": c["id"], "holds": c["holds"], "text": c["text"]} for c in results["claims"]]
    out["vocab_size"], out["data"] = results["vocab_size"], results["data"]
    out["threads"] = "/".join(str(r["threads"]) for r in results["models"].values())  # each model's
else:
    sweep = lab_support.run_sweep(cfg, progress=False)
    out["wall_seconds"] = sweep["wall_seconds"]
    out["claims"] = [c["holds"] for c in sweep["claims"]]
    out["threads"] = torch.get_num_threads()  # the last model's
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""

PREVIOUS_DEFAULT = dict(bf16=False, batch_size=32, lr=1e-3, lr_decay=0.0, embedded_docs=16000, epochs=6,
                        max_steps=3000, eval_every=250)


def run_child(kind: str, overrides: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(REPO / "solution"), kind, json.dumps(overrides)],
                          capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.exit(f"bench_lab: the {kind} child failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def describe(label: str, r: dict) -> str:
    held = f"{sum(r['claims'])}/{len(r['claims'])} claims held"
    if "train_seconds" not in r:
        return f"{label}: {r['wall_seconds']:.1f} s wall, peak {r['peak_mb']:.0f} MB, {held}"
    per_model = ", ".join(f"{n} {s:.1f} s" for n, s in r["train_seconds"].items())
    return (f"{label}: {r['wall_seconds']:.1f} s wall ({r['steps']} steps a model; training incl. validation: "
            f"{per_model}; data {r['data_seconds']:.1f} s, one LSTM validation pass "
            f"{r['valid_pass_lstm_seconds']:.2f} s, one probe {r['probe_seconds']:.2f} s), peak {r['peak_mb']:.0f} MB, "
            f"{held}, {r['threads']} threads")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1, help="runs of the default experiment (a range when > 1)")
    ap.add_argument("--compare", action="store_true", help="also run the previous default config once")
    ap.add_argument("--fp32", action="store_true", help="also run the default config in float32 throughout "
                                                        "(as on a CPU without bfloat16 support)")
    ap.add_argument("--sweep", action="store_true", help="also time the distance sweep (about 10 minutes)")
    ap.add_argument("--data", help="a folder of text (train.txt or test.txt, valid.txt): the default config on it")
    ap.add_argument("--seeds", type=int, help="run seeds 0 .. N-1 once each (instead of --repeat)")
    args = ap.parse_args()
    if args.data and (args.compare or args.fp32 or args.sweep):
        ap.error("--data runs the default config on that text only: drop --compare, --fp32 and --sweep")
    overrides = {"data": str(Path(args.data).resolve())} if args.data else {}
    from docs_figures import machine, write_results  # benchmarks/, this script's folder

    measured_on = machine()  # before it starts: the load average is of what else ran
    record = {"args": {"repeat": args.repeat, "fp32": args.fp32, "compare": args.compare, "sweep": args.sweep,
                       "data": Path(args.data).as_posix() if args.data else "embedded", "seeds": args.seeds},
              "compare_config": PREVIOUS_DEFAULT if args.compare else None, "fp32": None, "compare": None, "sweep": None}
    runs = []
    for i in range(args.seeds or args.repeat):
        runs.append(run_child("experiment", {**overrides, "seed": i} if args.seeds else overrides))
        print(describe(f"default experiment, {'seed' if args.seeds else 'run'} {i if args.seeds else i + 1}",
                       runs[-1]), flush=True)
    walls = [r["wall_seconds"] for r in runs]
    print(f"default experiment: {min(walls):.1f}-{max(walls):.1f} s wall over {len(walls)} run(s), "
          f"peak {max(r['peak_mb'] for r in runs):.0f} MB")
    record["runs"] = runs
    if args.fp32:
        fp32 = record["fp32"] = run_child("experiment", {"bf16": False})
        print(describe("default config in float32 throughout", fp32))
        print(f"float32 / default wall time: {fp32['wall_seconds'] / walls[-1]:.2f}x (same invocation)")
    if args.compare:
        old = record["compare"] = run_child("experiment", PREVIOUS_DEFAULT)
        print(describe("previous default (fp32, batch 32, lr 1e-3, 3000 steps)", old))
        print(f"previous / default wall time: {old['wall_seconds'] / walls[-1]:.2f}x (same invocation)")
    if args.sweep:
        record["sweep"] = run_child("sweep", {})
        print(describe("sweep (default distances)", record["sweep"]), flush=True)
    out = write_results(f"lab_{Path(args.data).resolve().name}" if args.data else "lab", record, measured_on)
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
