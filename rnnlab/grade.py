"""``rnnlab grade``: grade a class without Docker, through the judge (``autograder/rnnjudge``).

For each submission a judge process runs every hidden check against a sandboxed worker that
alone runs the submission's code (see ``rnnjudge``). Whatever a submission does, it gets exactly
one row, and no other submission, file or process is affected.

Writes to ``--out``: ``final_grades.csv`` (otter's columns, then ``authors``), per submission
``NAME/results.json`` (Gradescope's format), ``NAME/feedback.txt`` (for the student) and
``NAME/log.txt`` (for the TA: what the submission printed), ``score_distribution.png``, and the
class report.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rnnjudge.registry import split_points
from rnnjudge.secret import NoSecret
from rnnlab import course_secret
from rnnlab.class_report import add_report_arguments, shared_names, spreadsheet_safe, write_class_report
from rnnlab.tasks import TASKS, TOTAL_POINTS

SUBMISSION_SUFFIXES = (".py", ".ipynb")
UNSANDBOXED = "graded unsandboxed (--no-sandbox)"


@dataclass
class Grade:
    file: str
    task_points: dict[str, float] = field(default_factory=lambda: {t.key: 0.0 for t in TASKS})
    status: str = "graded"  # "graded", or what went wrong in grading
    checks: dict = field(default_factory=dict)  # name -> {"task", "passed", "description", "message", "feedback"}
    log: str = ""  # what the submission printed: for the TA only
    authors: list[str] = field(default_factory=list)  # the team's names, from the submission's AUTHORS
    notes: list[str] = field(default_factory=list)  # worth telling, costs nothing: "no authors named ..."

    @property
    def total(self) -> float:
        return round(sum(self.task_points.values()), 4)

    @property
    def status_line(self) -> str:
        """The status and the notes: what final_grades.csv, results.json and feedback.txt show."""
        return "; ".join([self.status, *self.notes])

    @property
    def authors_line(self) -> str:
        """The names as one cell: ``Ada Lovelace; Alan Turing``."""
        return "; ".join(self.authors)


def find_submissions(paths: list[str]) -> dict[str, Path]:
    """Submissions by name: files given directly (their name), the .py/.ipynb files inside a given
    folder (their name), and one level down the ``rnn_lm.py`` of each student's folder, as GitHub
    Classroom clones them (``alice/rnn_lm.py``)."""
    found: dict[str, Path] = {}

    def add(name: str, path: Path) -> None:
        if name in found:
            raise ValueError(f"two submissions are both called {name}: {found[name]} and {path}; "
                             "pass their folders instead, or rename one")
        found[name] = path

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.iterdir()):
                if f.is_file() and f.suffix in SUBMISSION_SUFFIXES:
                    add(f.name, f)
                elif f.is_dir() and (f / "rnn_lm.py").is_file():
                    add(f"{f.name}/rnn_lm.py", f / "rnn_lm.py")
        elif p.is_file():
            add(p.name, p)
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return found


def checks_of_task(grade: Grade, task: int) -> list[tuple[str, dict]]:
    return [(name, c) for name, c in grade.checks.items() if c["task"] == task]


def check_points(grade: Grade, task) -> dict[str, float]:
    """The points each of the task's checks is worth, from the weights the judge reported."""
    return split_points(task.points, {name: c["weight"] for name, c in checks_of_task(grade, task.number)})


def score(grade: Grade) -> None:
    for t in TASKS:
        points = check_points(grade, t)
        grade.task_points[t.key] = round(sum(points[name] for name, c in checks_of_task(grade, t.number)
                                             if c["passed"]), 4)


def grade_from_result(name: str, result: dict, sandboxed: bool) -> Grade:
    grade = Grade(file=name, checks=result["checks"], log=result["log"], authors=result["authors"],
                  notes=result["notes"])
    score(grade)
    problems = list(result["problems"])
    if not sandboxed:
        problems.append(UNSANDBOXED)
    if problems:
        grade.status = "graded with problems: " + "; ".join(problems)
    return grade


def judge_one(path: Path, key: bytes, mode: str, memory_mb: int, timeout: float) -> dict:
    """In a judge process of the pool: one submission's result (plain data)."""
    from rnnjudge.judge import judge_submission
    from rnnjudge.sandbox import Limits

    return judge_submission(path, key, mode, Limits(memory_mb=memory_mb, cpu_seconds=int(timeout) + 5), timeout)


def feedback_text(grade: Grade) -> str:
    """What the student reads: scores and each check's feedback; never the submission's output."""
    lines = [f"Submission: {grade.file}", f"Authors: {grade.authors_line or 'none named'}",
             f"Status: {grade.status_line}", f"Score: {grade.total:g} / {TOTAL_POINTS}", ""]
    for t in TASKS:
        lines.append(f"Task {t.number} ({t.title}): {grade.task_points[t.key]:g} / {t.points}")
        for _, c in checks_of_task(grade, t.number):
            mark = "PASS" if c["passed"] else "FAIL"
            lines.append(f"  [{mark}] " + c["feedback"].replace("\n", "\n         "))
        lines.append("")
    return "\n".join(lines) + "\n"


def gradescope_results(grade: Grade) -> dict:
    """Gradescope's results.json: one test a check, each worth its share of the task's points."""
    tests = []
    for t in TASKS:
        points = check_points(grade, t)
        for name, c in checks_of_task(grade, t.number):
            tests.append({"name": f"Task {t.number}: {name}", "score": points[name] if c["passed"] else 0.0,
                          "max_score": points[name], "output": c["feedback"], "visibility": "visible"})
    output = f"Authors: {grade.authors_line or 'none named'}\nStatus: {grade.status_line}"
    return {"score": grade.total, "output": output, "tests": tests,
            "leaderboard": [], "visibility": "visible", "stdout_visibility": "hidden"}


RESERVED_NAMES = {"final_grades.csv", "score_distribution.png", "report.html", "class_summary.csv", "similarity.csv"}


def output_folders(grades: list[Grade]) -> list[str]:
    """One folder name per submission under ``--out``: the student's folder or the file's stem,
    made safe (letters, digits, ``._-``; never ``.``, ``..`` or a name of the class's own files)
    and unique (``alice.py`` next to ``alice/rnn_lm.py`` gets ``alice_``)."""
    used, names = set(RESERVED_NAMES), []
    for g in grades:
        raw = g.file.split("/")[0] if "/" in g.file else Path(g.file).stem
        folder = re.sub(r"[^A-Za-z0-9._-]", "_", raw).strip(".") or "submission"
        while folder in used:
            folder += "_"
        used.add(folder)
        names.append(folder)
    return names


def write_outputs(grades: list[Grade], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "final_grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", *(t.key for t in TASKS), "total_points_earned", "percent_correct", "grading_status",
                         "authors"])
        for g in grades:
            writer.writerow([spreadsheet_safe(g.file), *(f"{g.task_points[t.key]:g}" for t in TASKS), f"{g.total:g}",
                             f"{100 * g.total / TOTAL_POINTS:.2f}", spreadsheet_safe(g.status_line),
                             spreadsheet_safe(g.authors_line)])
    for g, folder in zip(grades, output_folders(grades)):
        (out / folder).mkdir(exist_ok=True)
        (out / folder / "results.json").write_text(json.dumps(gradescope_results(g), indent=1))
        (out / folder / "feedback.txt").write_text(feedback_text(g))
        (out / folder / "log.txt").write_text(g.log)
    plot_distribution(grades, out / "score_distribution.png")


def plot_distribution(grades: list[Grade], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.hist([100 * g.total / TOTAL_POINTS for g in grades], bins=range(0, 105, 5), color="tab:blue", edgecolor="white")
    ax1.set(xlabel="percent correct", ylabel="submissions", title=f"Scores ({len(grades)} submissions)")
    means = [sum(g.task_points[t.key] for g in grades) / len(grades) / t.points * 100 for t in TASKS]
    ax2.bar([f"Task {t.number}" for t in TASKS], means, color="tab:green")
    ax2.set(ylim=(0, 100), ylabel="mean percent of points", title="By task")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def grade_all(submissions: dict[str, Path], out: Path, key: bytes, workers: int, timeout: float, memory_mb: int,
              sandboxed: bool = True, progress: bool = True) -> list[Grade]:
    from tqdm.auto import tqdm

    mode = "bwrap" if sandboxed else "none"
    bar = tqdm(total=len(submissions), desc="grading", unit="submission", disable=not progress)
    context = multiprocessing.get_context("spawn")  # judge processes start clean, not as copies of this one
    grades = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {name: pool.submit(judge_one, path, key, mode, memory_mb, timeout) for name, path in submissions.items()}
        for name, future in futures.items():
            try:
                grades[name] = grade_from_result(name, future.result(), sandboxed)
            except Exception as err:  # noqa: BLE001 - the grader's own trouble still yields one row
                grades[name] = Grade(file=name, status=f"grader error: {type(err).__name__}: {err}")
            bar.update(1)
    bar.close()
    ordered = [grades[name] for name in submissions]
    note_shared_names(ordered)
    write_outputs(ordered, out)
    return ordered


def note_shared_names(grades: list[Grade]) -> None:
    """A name in the AUTHORS of several submissions is noted on each of their rows (no points lost)."""
    for name, files in shared_names(grades).items():
        for g in grades:
            if g.file in files:
                others = ", ".join(f for f in files if f != g.file)
                g.notes.append(f"AUTHORS name {name!r} is also in {others} (no points lost; ask who did the work)")


def compare_with_otter(grades: list[Grade], otter_csv: Path) -> list[str]:
    """Lines naming the submissions whose otter grade differs from the judge's."""
    with open(otter_csv, newline="") as f:
        theirs = {Path(row["file"]).name: row for row in csv.DictReader(f)}
    lines = []
    for g in grades:
        row = theirs.get(Path(g.file).name)
        if row is None:
            lines.append(f"{g.file}: not in {otter_csv.name}")
            continue
        diffs = [f"{t.key} {float(row.get(t.key) or 0):g} -> {g.task_points[t.key]:g}" for t in TASKS
                 if abs(float(row.get(t.key) or 0) - g.task_points[t.key]) > 1e-3]
        if diffs:
            lines.append(f"{g.file}: otter {float(row.get('total_points_earned') or 0):g}, judge {g.total:g} "
                         f"({'; '.join(diffs)})")
    return lines


def cmd_grade(args: argparse.Namespace) -> int:
    try:
        submissions = find_submissions(args.submissions)
    except (FileNotFoundError, ValueError) as err:
        print(f"rnnlab grade: {err}", file=sys.stderr)
        return 2
    if not submissions:
        print(f"rnnlab grade: no {' or '.join(SUBMISSION_SUFFIXES)} files in {', '.join(args.submissions)}", file=sys.stderr)
        return 2
    if args.compare and not Path(args.compare).is_file():
        print(f"rnnlab grade: no such file: {args.compare} (give the final_grades.csv of an otter run)", file=sys.stderr)
        return 2
    if not args.no_sandbox:
        from rnnjudge.sandbox import bwrap_problem

        problem = bwrap_problem()
        if problem:
            print(f"rnnlab grade: refusing to run submissions without a sandbox: {problem} "
                  "To grade anyway, pass --no-sandbox: every row's status will then say so.", file=sys.stderr)
            return 2
    try:
        key = course_secret.load(Path(args.secret) if args.secret else None)
    except NoSecret as err:
        print(f"rnnlab grade: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    grades = grade_all(submissions, out, key, args.workers, args.timeout, args.memory_mb,
                       sandboxed=not args.no_sandbox, progress=not args.no_progress)
    write_class_report(grades, submissions, out, args.similarity_threshold)
    mean = sum(g.total for g in grades) / len(grades)
    print(f"graded {len(grades)} submissions: mean {mean:.1f} / {TOTAL_POINTS}; wrote {out / 'final_grades.csv'}, "
          f"per-submission results.json, feedback.txt and log.txt, {out / 'score_distribution.png'}, "
          f"{out / 'report.html'}")
    if args.compare:
        differences = compare_with_otter(grades, Path(args.compare))
        print(f"{len(differences)} submissions graded differently in {args.compare}" + (":" if differences else "."))
        for line in differences:
            print("  " + line)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("grade", help="grade submissions without Docker",
                       description="Grade .py (or .ipynb) submissions: a judge process per submission runs the "
                                   "hidden checks against a sandboxed worker that alone runs the submission's code.")
    p.add_argument("submissions", nargs="+", help="submission files and/or folders of them")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per submission (default 120)")
    p.add_argument("--memory-mb", type=int, default=4096, help="address-space limit of the worker (default 4096)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="grade without bubblewrap (not safe against hostile code; every status says so)")
    p.add_argument("--compare", metavar="OTTER_CSV",
                   help="list the submissions whose grade in this otter final_grades.csv differs from the judge's")
    p.add_argument("--secret", metavar="FILE",
                   help="the course secret the hidden inputs derive from (default: $RNNJUDGE_SECRET, else "
                        "autograder/course.secret, which `rnnlab release` creates)")
    p.add_argument("--no-progress", action="store_true")
    add_report_arguments(p)
    p.set_defaults(func=cmd_grade)
