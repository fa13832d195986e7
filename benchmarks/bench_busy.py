"""Benchmark: the experiment next to busy neighbours, for each setting of PyTorch's CPU threads.

    .venv/bin/python benchmarks/bench_busy.py [--steps 150] [--full]     (part of make bench-lab)

A shared JupyterHub or a laptop with a browser open has other programs busy on the same cores.
This runs the experiment (`lab_support.run_experiment`, `--steps` training steps a model; the
whole default experiment with --full) in a fresh child process, idle and next to one and two
CPU-bound neighbour processes, with `LabConfig(threads=1)`, with PyTorch's default (one thread a
core) and with the lab's default (`threads=None`: PyTorch's default less the cores busy
elsewhere, `lab_support.set_threads`); with --full, the whole experiment idle and next to one
neighbour, with the lab's default. It prints each wall time and its ratio to the same
setting idle, all measured in this one invocation. Run it with nothing else running: the
neighbours are the only load it should see.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench_lab import run_child

NEIGHBOUR = "while True: pass"  # one core kept busy, as a training run or a video call does


def with_neighbours(count: int, overrides: dict) -> dict:
    neighbours = [subprocess.Popen([sys.executable, "-c", NEIGHBOUR]) for _ in range(count)]
    try:
        time.sleep(1.0 if count else 0.0)  # let them reach their cores
        return run_child("experiment", overrides)
    finally:
        for proc in neighbours:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=150, help="training steps a model (default 150)")
    ap.add_argument("--full", action="store_true",
                    help="the whole default experiment, idle and next to one neighbour, lab default threads only")
    args = ap.parse_args()

    import torch  # the child's PyTorch default: one thread a core
    from docs_figures import REPO, machine, write_results  # benchmarks/, this script's folder

    measured_on = machine()  # before it starts: the load average is of what else ran
    measured = []

    cores = torch.get_num_threads()
    settings = {"lab default (threads=None)": {}} if args.full else {
        "threads=1": {"threads": 1}, f"threads={cores} (PyTorch's default)": {"threads": cores},
        "lab default (threads=None)": {}}
    steps = {} if args.full else {"max_steps": args.steps}
    what = "the default experiment" if args.full else f"the experiment with {args.steps} steps a model"
    print(f"{what}; {cores} cores; wall seconds (x its own idle time)")
    idle = {}
    for count in (0, 1) if args.full else (0, 1, 2):
        for label, overrides in settings.items():
            r = with_neighbours(count, {**overrides, **steps})
            idle.setdefault(label, r["wall_seconds"])
            measured.append({"neighbours": count, "setting": label, "overrides": {**overrides, **steps},
                             "wall_seconds": r["wall_seconds"], "ratio_to_idle": r["wall_seconds"] / idle[label],
                             "threads": r["threads"], "claims": r["claims"], "peak_mb": r["peak_mb"]})
            print(f"  {count} busy neighbour(s), {label:<34} {r['wall_seconds']:7.1f} s "
                  f"({r['wall_seconds'] / idle[label]:.2f}x), {r['threads']} threads used, "
                  f"{sum(r['claims'])}/{len(r['claims'])} claims held", flush=True)
    if not args.full:
        default = f"threads={cores} (PyTorch's default)"
        print(f"idle: lab default / PyTorch's default: {idle['lab default (threads=None)'] / idle[default]:.2f}x")
    record = {"steps": None if args.full else args.steps, "full": args.full, "cores": cores, "runs": measured,
              "idle_lab_default_over_pytorch_default": None if args.full
              else idle["lab default (threads=None)"] / idle[f"threads={cores} (PyTorch's default)"]}
    out = write_results("busy_full" if args.full else "busy", record, measured_on)
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
