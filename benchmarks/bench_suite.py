"""`make test` as a user runs it: from a bare fresh clone in a folder only its owner can enter (mode
700, as `mktemp -d` and most home folders are), several times in a row, and once next to a busy
neighbour process.

    python benchmarks/bench_suite.py [--repeat 3] [--busy 1] [--target test]

Each run clones this repository's HEAD into a new `mktemp -d` folder and runs `make TARGET` there
with nothing installed beforehand; `--busy N` more runs each have a process spinning on one core
beside them. Writes benchmarks/results/suite.json (`suite_TARGET.json` for another target): per
run, whether it passed, its wall time, the counts pytest printed and the failing tests. Nothing
else should run meanwhile: the times are of this machine as it is.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docs_figures import DEPENDS, machine, tracked_sources  # benchmarks/, this script's folder

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
SUMMARY = re.compile(r"^=+ (.*) in [0-9.]+s.* =+$", re.MULTILINE)


def one_run(target: str, busy: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="rnnlab-suite-"))  # mode 700
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        subprocess.run(["git", "clone", "-q", str(REPO), str(folder / "rnnlab")], check=True)
        start = time.perf_counter()
        proc = subprocess.run(["make", target], cwd=folder / "rnnlab", capture_output=True, text=True)
        seconds = time.perf_counter() - start
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    output = proc.stdout + proc.stderr
    return {"busy_neighbour": busy, "passed": proc.returncode == 0, "seconds": round(seconds, 1),
            "folder_mode": oct(folder.stat().st_mode & 0o777), "pytest": SUMMARY.findall(output),
            "failed": sorted(set(re.findall(r"^FAILED (\S+)", output, re.MULTILINE))),
            "tail": output[-2000:] if proc.returncode else "", "_folder": folder}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs in a row on an otherwise idle machine")
    parser.add_argument("--busy", type=int, default=1, help="runs next to a process spinning on one core")
    parser.add_argument("--target", default="test", help="the make target (default: test)")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    measured_on = machine()  # before it starts: the load average is of what else ran
    runs = []
    for busy in [False] * args.repeat + [True] * args.busy:
        run = one_run(args.target, busy)
        shutil.rmtree(run.pop("_folder"), ignore_errors=True)
        runs.append(run)
        print(f"make {args.target}{' next to a busy process' if busy else ''}: "
              f"{'passed' if run['passed'] else 'FAILED'} in {run['seconds'] / 60:.1f} min; {'; '.join(run['pytest'])}"
              + (f"; failed: {', '.join(run['failed'])}" if run["failed"] else ""), flush=True)
    results = RESULTS / ("suite.json" if args.target == "test" else f"suite_{args.target}.json")
    RESULTS.mkdir(exist_ok=True)
    results.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "commit": commit, "target": args.target,
                                   "machine": measured_on, "runs": runs,
                                   "sources": tracked_sources(DEPENDS["suite"], commit)}, indent=1) + "\n")
    print(f"wrote {results}")


if __name__ == "__main__":
    main()
