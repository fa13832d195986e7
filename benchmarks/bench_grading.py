"""Benchmark: grading speed through the judge and the sandboxed worker.

    .venv/bin/python benchmarks/bench_grading.py [--class-size 50] [--workers 2] [--baseline REV]

Prints, measured in one run on this machine, and writes to ``benchmarks/results/grading.json``:
- seconds for the whole hidden suite on one submission through judge and sandbox (in one warm
  judge process, so without the judge's own start-up);
- seconds for one submission under `rnnlab grade` (one worker, start-up included);
- seconds for one submission under `otter run -a autograder.zip` (otter's start-up included);
- wall time for `rnnlab grade` on a class of N submissions (the solution and the buggy variants
  of tests/submission_bank.py) with --workers W;
- with --baseline, the two `rnnlab grade` figures for that git revision too, checked out into a
  temporary worktree: a before-and-after of a change to the grader, measured in one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from submission_bank import BUGGY, SOLUTION, apply_edits  # noqa: E402

from rnnlab.autograder_build import build_autograder_zip  # noqa: E402

KEY = bytes.fromhex("be9c" * 16)  # this benchmark's course secret
os.environ["RNNJUDGE_SECRET"] = KEY.hex()  # for the `rnnlab grade` and `otter run` it starts


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def write_class(folder: Path, size: int) -> Path:
    folder.mkdir()
    variants = [SOLUTION] + [apply_edits(edits) for _, edits in BUGGY.values()]
    for i in range(size):
        (folder / f"student{i:03d}.py").write_text(variants[i % len(variants)])
    return folder


def grade_times(code_root: Path, one: Path, klass: Path, out: Path, workers: int, env: dict | None) -> tuple[float, float]:
    """(one submission, the class) under `rnnlab grade` from ``code_root``."""
    base = [sys.executable, "-m", "rnnlab.cli", "grade", "--no-progress"]
    one_s = timed([*base, str(one), "--out", str(out / "one"), "--workers", "1"], code_root, env)
    class_s = timed([*base, str(klass), "--out", str(out / "class"), "--workers", str(workers)], code_root, env)
    return one_s, class_s


def baseline_times(ref: str, tmp: Path, one: Path, klass: Path, workers: int) -> tuple[float, float] | None:
    tree = tmp / "baseline"
    if subprocess.run(["git", "worktree", "add", "--detach", str(tree), ref], cwd=REPO,
                      capture_output=True).returncode != 0:
        print(f"(no baseline: git revision {ref} is not available here)")
        return None
    try:
        # its rnnlab and rnnjudge before the editable installs'
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree), str(tree / "autograder")]))
        return grade_times(tree, one, klass, tmp / "baseline_out", workers, env)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--class-size", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline", default="", help="also time this git revision's `rnnlab grade` (none by default)")
    args = ap.parse_args()
    from docs_figures import machine, write_results  # benchmarks/, this script's folder
    from rnnjudge.judge import judge_submission

    measured_on = machine()  # before it starts: the load average is of what else ran

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        one = tmp / "rnn_lm.py"
        one.write_text(SOLUTION)
        judge_submission(one, KEY)  # warm: imports, and the references every submission shares
        start = time.perf_counter()
        judge_submission(one, KEY)
        judge_s = time.perf_counter() - start
        klass = write_class(tmp / "class", args.class_size)
        ours = grade_times(REPO, one, klass, tmp / "ours", args.workers, None)
        zip_path = build_autograder_zip(KEY, tmp / "autograder.zip")
        otter_s = timed([str(Path(sys.executable).parent / "otter"), "run", "-a", str(zip_path), "-o", str(tmp),
                         str(one)], tmp)
        before = baseline_times(args.baseline, tmp, one, klass, args.workers) if args.baseline else None
    print(f"{'':52s} {'this tree':>16s} {args.baseline or '':>22s}")
    rows = [("hidden suite, one submission, warm judge", judge_s, None),
            ("rnnlab grade, one submission (one worker)", ours[0], before and before[0]),
            (f"rnnlab grade, {args.class_size} submissions, {args.workers} workers", ours[1], before and before[1]),
            ("otter run, one submission (start-up included)", otter_s, None)]
    for label, new, old in rows:
        print(f"{label:52s} {new:14.1f} s {'' if old is None else f'{old:20.1f} s'}")
    print(f"per submission in the class: {ours[1] / args.class_size:.2f} s"
          + (f" ({args.baseline}: {before[1] / args.class_size:.2f} s)" if before else ""))
    record = {"class_size": args.class_size, "workers": args.workers, "judge_seconds": judge_s,
              "grade_one_seconds": ours[0], "grade_class_seconds": ours[1], "otter_run_seconds": otter_s,
              "per_submission_seconds": ours[1] / args.class_size, "baseline": args.baseline or None,
              "baseline_grade_one_seconds": before and before[0], "baseline_grade_class_seconds": before and before[1]}
    out = write_results("grading", record, measured_on)
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
