"""Benchmark: the class report and its copy detection, after grading.

    .venv/bin/python benchmarks/bench_report.py [--class-size 200]

Builds a class from tests/submission_bank.py (the solution, the 7 correct alternatives and the
27 buggy variants, repeated with variations: local variables renamed, comments shuffled,
independent lines swapped) with synthetic grades (each buggy variant fails checks of its task
with messages that differ in their numbers), then times ``write_class_report`` and, within it,
the copy detection alone. Prints the seconds and the size of what was written.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from submission_bank import BUGGY, CORRECT, SOLUTION, apply_edits  # noqa: E402
from test_class_report import FakeGrade, disguise  # noqa: E402

from rnnlab import similarity  # noqa: E402
from rnnlab.class_report import write_class_report  # noqa: E402
from rnnlab.tasks import TASKS  # noqa: E402

CHECKS_PER_TASK = 5


def bank() -> list[tuple[str, int | None, str]]:
    """(name, task it breaks or None, code) of every bank submission."""
    found = [("solution", None, SOLUTION)]
    found += [(name, None, apply_edits(edits)) for name, edits in CORRECT.items()]
    found += [(name, task, apply_edits(edits)) for name, (task, edits) in BUGGY.items()]
    return found


def shuffle_comments(code: str, rng: random.Random) -> str:
    """Every comment moved onto its own line at a random place (indented like the line below it)."""
    comments = re.findall(r"#[^\n]*", code)
    lines = re.sub(r"[ \t]*#[^\n]*", "", code).split("\n")
    for comment in comments:
        at = rng.randrange(len(lines))
        indent = re.match(r"\s*", lines[at]).group()
        lines.insert(at, indent + comment)
    return "\n".join(lines)


def variation(code: str, copy_number: int, rng: random.Random) -> str:
    if copy_number == 0:
        return code
    if copy_number % 2:
        return disguise(code, suffix=f"_{copy_number}")
    return shuffle_comments(code, rng)


def synthetic_grade(file: str, broken_task: int | None, rng: random.Random) -> FakeGrade:
    """Passes every check except, for a buggy variant, one to three checks of its task."""
    grade = FakeGrade(file)
    for task in TASKS:
        failing = rng.sample(range(CHECKS_PER_TASK), rng.randint(1, 3)) if task.number == broken_task else []
        for k in range(CHECKS_PER_TASK):
            got, want = rng.uniform(0, 5), rng.uniform(0, 5)
            grade.checks[f"task{task.number}_check{k}"] = {
                "task": task.number, "passed": k not in failing,
                "description": f"{task.title}: property {k} against a float64 reference",
                "message": f"got {got:.5f}, expected {want:.5f} (B={rng.randint(1, 4)}, T={rng.randint(1, 9)})"
                           if k in failing else "", "feedback": ""}
        grade.task_points[task.key] = task.points * (CHECKS_PER_TASK - len(failing)) / CHECKS_PER_TASK
    return grade


def make_class(size: int, folder: Path) -> tuple[list[FakeGrade], dict[str, Path]]:
    rng = random.Random(0)
    variants = bank()
    grades, sources = [], {}
    for i in range(size):
        name, broken_task, code = variants[i % len(variants)]
        file = f"student{i:03d}_{name}.py"
        sources[file] = folder / file
        sources[file].write_text(variation(code, i // len(variants), rng))
        grades.append(synthetic_grade(file, broken_task, rng))
    return grades, sources


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--class-size", type=int, default=200)
    args = ap.parse_args()
    from docs_figures import machine, write_results  # benchmarks/, this script's folder

    measured_on = machine()  # before it starts: the load average is of what else ran
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-report-") as tmp:
        subs, out = Path(tmp) / "submissions", Path(tmp) / "report"
        subs.mkdir()
        grades, sources = make_class(args.class_size, subs)

        start = time.perf_counter()
        result = similarity.find_similar(sources, similarity.DEFAULT_THRESHOLD)
        detection = time.perf_counter() - start

        start = time.perf_counter()
        write_class_report(grades, sources, out, similarity.DEFAULT_THRESHOLD)
        whole = time.perf_counter() - start

        page_kb = (out / "report.html").stat().st_size / 1024
        print(f"{args.class_size} submissions ({args.class_size * (args.class_size - 1) // 2} pairs), "
              f"threshold {similarity.DEFAULT_THRESHOLD}")
        print(f"copy detection alone:                       {detection:6.2f} s  ({len(result.pairs)} pairs flagged)")
        print(f"write_class_report (page, CSVs, detection): {whole:6.2f} s  (report.html {page_kb:.0f} KB)")
    record = {"class_size": args.class_size, "pairs": args.class_size * (args.class_size - 1) // 2,
              "threshold": similarity.DEFAULT_THRESHOLD, "detection_seconds": detection,
              "pairs_flagged": len(result.pairs), "report_seconds": whole, "report_kb": page_kb}
    written = write_results("report" if args.class_size == 200 else f"report_{args.class_size}", record, measured_on)
    print(f"wrote {written.relative_to(REPO)}")


if __name__ == "__main__":
    main()
