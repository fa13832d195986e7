"""How far the numbers of one honest run move when only float rounding changes, next to the
tolerances of ``rnnlab grade --rerun`` (``rnnlab/rerun.py``), and what a re-run costs a team.

    python benchmarks/bench_rerun.py [--quick]

The reference solution runs the lab's default experiment (``--quick``: LAB_QUICK's size) four ways:
as the lab runs it with 1 CPU thread, with 2 threads, in float32 throughout (no bfloat16 for the
LSTMs) and once more as the first (the same run must repeat exactly). Another thread count or
precision changes the rounding as another machine or PyTorch version would; each number's move is
printed as a share of its tolerance (under 0.5: the tolerance has room; over 1: an honest team on
another machine could lose its points). Then one team's verdict is timed through ``rerun_team``, as
``rnnlab grade --rerun`` gives it (the course's run of the experiment, in the sandbox). Writes
benchmarks/results/rerun.json. Run it alone: the timing is of this machine as it is.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "solution"), str(REPO / "autograder"), str(REPO), str(REPO / "tests")]

import torch  # noqa: E402

import lab_support  # noqa: E402
import student_notebooks  # noqa: E402
from rnnjudge.sandbox import Limits, bwrap_problem  # noqa: E402
from rnnlab.notebook import report_of_cells  # noqa: E402
from rnnlab.rerun import (MODEL_KEYS, RERUN_KEYS, RNN_TRAINED_GRADIENT, TOLERANCES, CourseRuns, rerun_team,  # noqa: E402
                          tolerance_for)

SOLUTION = (REPO / "solution" / "rnn_lm.py").read_text()


def share_of_tolerance(kind: str, model: str, a: float, b: float) -> float:
    """|a - b| as a share of what the tolerance allows (1.0: at the limit)."""
    tol = tolerance_for(model, kind)
    allowed = tol.absolute + tol.relative * abs(b)
    shares = [abs(a - b) / allowed] if allowed > 0 else []
    if tol.factor > 1 and a > 0 and b > 0:
        shares.append(math.log(max(a / b, b / a)) / math.log(tol.factor))
    return min(shares) if shares else float("inf")


def tolerances_in_force() -> dict:
    return {**{kind: dataclasses.asdict(tol) for kind, tol in TOLERANCES.items()},
            "rnn grad trained": dataclasses.asdict(RNN_TRAINED_GRADIENT)}


def run(cfg) -> tuple[dict, float]:
    start = time.perf_counter()
    results = lab_support.run_experiment(cfg, progress=False)
    return results, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="LAB_QUICK's size (seconds, for a smoke run)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # run it alone: what else ran, as the 1-minute load average
    base = lab_support.LabConfig(**(student_notebooks.QUICK if args.quick else {}), device="cpu")
    ways = {"1 thread": dataclasses.replace(base, threads=1), "2 threads": dataclasses.replace(base, threads=2),
            "1 thread, float32": dataclasses.replace(base, threads=1, bf16=False),
            "1 thread, again": dataclasses.replace(base, threads=1)}
    runs = {}
    for name, cfg in ways.items():
        runs[name], seconds = run(cfg)
        print(f"{name}: {seconds:.0f} s", flush=True)
    reference = runs["1 thread"]
    moves = {}
    for name in ("2 threads", "1 thread, float32", "1 thread, again"):
        moves[name] = {}
        for model in MODEL_KEYS.values():
            for kind, key in RERUN_KEYS.items():
                a, b = runs[name]["models"][model][key], reference["models"][model][key]
                moves[name][f"{model} {kind}"] = {"reference": b, "this": a, "share": share_of_tolerance(kind, model, a, b)}
    print(f"\n{'number':24s} " + " ".join(f"{n:>20s}" for n in moves))
    for label in moves["2 threads"]:
        print(f"{label:24s} " + " ".join(f"{moves[n][label]['share']:20.2f}" for n in moves))
    worst = {n: max(v["share"] for v in m.values()) for n, m in moves.items()}
    print("worst share of a tolerance: " + ", ".join(f"{n} {w:.2f}" for n, w in worst.items()))

    # One team's verdict as rnnlab grade --rerun gives it: the course's run of the notebook's record, in
    # the sandbox with one core's quota (the first team of its configuration pays it; the others share it).
    printed = student_notebooks.experiment_printed(ways["1 thread"], reference)
    report = report_of_cells(student_notebooks.run(student_notebooks.template(), printed=printed).cells)
    mode = "bwrap" if bwrap_problem() is None else "none"
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        verdict = rerun_team(SOLUTION, report, [], CourseRuns(mode, Limits(cpu_seconds=3600), 3600), mode,
                             Limits(cpu_seconds=3600), 3600, log)
        rerun_seconds = time.perf_counter() - start
    print(f"one team's re-run ({mode}): {rerun_seconds:.0f} s, {verdict.line}")
    out = REPO / "benchmarks" / "results" / "rerun.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "load_before": load_before, "size": "quick" if args.quick else "default", "moves": moves,
        "worst_share": worst, "tolerances": tolerances_in_force(), "rerun_seconds": rerun_seconds, "rerun_verdict": verdict.line,
        "bf16": reference["bf16"]}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
