"""Benchmark: grading speed.

    .venv/bin/python benchmarks/bench_grading.py [--class-size 50] [--workers 2]

Prints, measured in one run on this machine:
- seconds for one submission under `otter run -a autograder.zip` (otter's start-up included);
- seconds for one submission under `rnnlab grade` (one worker);
- wall time for `rnnlab grade` on a class of N submissions (a mix of the solution and the
  buggy variants of tests/submission_bank.py) with --workers W.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from submission_bank import BUGGY, SOLUTION, apply_edits  # noqa: E402

from rnnlab.autograder_build import build_autograder_zip  # noqa: E402


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--class-size", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        zip_path = build_autograder_zip(tmp / "autograder.zip")
        one = tmp / "one"
        one.mkdir()
        (one / "rnn_lm.py").write_text(SOLUTION)
        otter_s = timed([str(bin_dir / "otter"), "run", "-a", str(zip_path), "-o", str(one), str(one / "rnn_lm.py")], one)
        ours_s = timed([sys.executable, "-m", "rnnlab.cli", "grade", str(one / "rnn_lm.py"), "--out",
                        str(tmp / "one_out"), "--workers", "1", "--no-progress"], REPO)
        klass = tmp / "class"
        klass.mkdir()
        variants = [SOLUTION] + [apply_edits(edits) for _, edits in BUGGY.values()]
        for i in range(args.class_size):
            (klass / f"student{i:03d}.py").write_text(variants[i % len(variants)])
        class_s = timed([sys.executable, "-m", "rnnlab.cli", "grade", str(klass), "--out", str(tmp / "class_out"),
                         "--workers", str(args.workers), "--no-progress"], REPO)
    print(f"otter run, one submission (start-up included): {otter_s:6.1f} s")
    print(f"rnnlab grade, one submission (one worker):      {ours_s:6.1f} s")
    print(f"rnnlab grade, {args.class_size} submissions, {args.workers} workers:     {class_s:6.1f} s "
          f"({class_s / args.class_size:.2f} s a submission)")


if __name__ == "__main__":
    main()
