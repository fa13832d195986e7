"""Benchmark: one submission graded as Gradescope grades it, at Gradescope's default resources.

    .venv/bin/python benchmarks/bench_gradescope.py [--repeat 2] [--cpus 0.5] [--memory 768m]

The grading image is built as otter grade's Dockerfile builds it (tests/grading_image.py; the first
run builds it, about 4 minutes, not timed). Then the reference solution is graded by the image's
``/autograder/run_autograder`` in a container with ``--cpus``, ``--memory`` (swap off) and the
network on (Gradescope's default), the worker sandboxed as the user ``nobody``, ``--repeat`` times.
Prints, and writes to benchmarks/results/gradescope.json, per run: the score, the wall time of the
container and its peak memory (the memory cgroup's high-water mark), with the machine it ran on.
Run it alone: the figures are only worth what the machine's load lets them be.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import grading_image  # noqa: E402
from submission_bank import SOLUTION  # noqa: E402

from rnnlab.autograder_build import build_autograder_zip  # noqa: E402
from rnnlab.tasks import TASKS  # noqa: E402

KEY = bytes.fromhex("be9c" * 16)  # this benchmark's course secret
RESULTS = REPO / "benchmarks" / "results" / "gradescope.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cpus", default="0.5")
    parser.add_argument("--memory", default="768m")
    args = parser.parse_args()
    grading_image.GRADESCOPE_RESOURCES = ("--cpus", args.cpus, "--memory", args.memory, "--memory-swap", args.memory)
    with tempfile.TemporaryDirectory() as tmp:
        zip_path = build_autograder_zip(KEY, Path(tmp) / "autograder.zip")
        print("building (or finding) the grading image ...", flush=True)
        image = grading_image.ensure_grading_image(zip_path)
        runs = []
        for i in range(args.repeat):
            work = Path(tmp) / f"run{i}"
            work.mkdir()
            run = grading_image.gradescope_run(image, SOLUTION, work)
            score = sum(t["score"] for t in run["results"]["tests"] if t["name"] in {k.key for k in TASKS})
            runs.append({"score": round(score, 4), "wall_s": round(run["wall_s"], 1),
                         "peak_mb": None if run["peak_bytes"] is None else round(run["peak_bytes"] / 2**20),
                         "status": run["results"].get("output", "")[:200], "left_running": run["left"]})
            print(f"run {i + 1}: {runs[-1]['score']} points in {runs[-1]['wall_s']} s, peak {runs[-1]['peak_mb']} MB; "
                  f"{runs[-1]['status']}", flush=True)
    import torch

    record = {"benchmark": "bench_gradescope", "date": date.today().isoformat(), "cpus": args.cpus,
              "memory": args.memory, "runs": runs,
              "machine": {"cores": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2),
                          "python": platform.python_version(), "torch": torch.__version__}}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0 if all(r["score"] == sum(t.points for t in TASKS) for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
