"""``rnnlab grade``: grade a class without Docker, through the judge (``autograder/rnnjudge``).

For each submission a judge process runs every hidden check against a sandboxed worker that
alone runs the submission's code (see ``rnnjudge``). Whatever a submission does, it gets exactly
one row, and no other submission, file or process is affected.

In a folder per team (GitHub Classroom clones) the team's ``lab.ipynb`` is read too, as JSON, never
run (``rnnlab.notebook``): its points (``NOTEBOOK_CHECKS``) join the grade, and its answers go to the
answers sheet, where a TA scores them (``manual_scores.csv``, merged with ``--manual``).

Writes to ``--out``, replacing it whole (``rnnlab.outputs``): ``final_grades.csv`` (otter's columns, the
notebook's and the answers', then the statuses and ``authors``), per submission, under ``teams/`` so
that no team's name can be one of the class's files, ``teams/NAME/results.json`` (Gradescope's format),
``teams/NAME/feedback.txt`` (for the student), ``teams/NAME/log.txt`` (for the TA: what the submission
printed) and ``teams/NAME/answers.html`` (the team's answers, printable), ``score_distribution.png``,
the class report, the answers sheet (``answers.html``, ``manual_scores.csv``) and, with
``--gradebook``, a file for the course's gradebook.

With ``--classroom`` each submission's students are the ones GitHub Classroom says own its repository
(``rnnlab.classroom``), and ``AUTHORS`` is a cross-check; without, they are whoever ``AUTHORS`` names.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import random
import re
import sys
import tempfile
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rnnjudge.registry import split_points
from rnnjudge.sandbox import RUN_VARIABLE, TIME_BUDGET_S, remove_cgroups_of_run
from rnnjudge.secret import NoSecret
from rnnlab import classroom, course_secret, deadline
from rnnlab.answers_sheet import write_answers_sheet
from rnnlab.class_report import add_report_arguments, plural, shared_names, spreadsheet_safe, write_class_report
from rnnlab.gradebook import DEFAULT_ASSIGNMENT, FORMATS, GradebookError, read_roster, write_gradebook
from rnnlab.manual_scores import SHEET_NAME, ManualScoresError, merge, read_sheet
from rnnjudge.session import printable
from rnnlab.notebook import ANSWERED, NOT_CONFIRMED, NOTEBOOK_NAME, READ, NotebookReport, Rerun, missing, read_notebook
from rnnlab.outputs import TEAMS_FOLDER, refusal, replacing
from rnnlab.tasks import GRADE_POINTS, NOTEBOOK_CHECKS, NOTEBOOK_POINTS, QUESTIONS, TASKS, TOTAL_POINTS

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
    notebook: NotebookReport = field(default_factory=lambda: missing("not read"))  # the team's lab.ipynb
    manual: dict[str, float | None] = field(default_factory=lambda: {q.key: None for q in QUESTIONS})  # TA's points

    @property
    def total(self) -> float:
        """The code's points (the hidden checks)."""
        return round(sum(self.task_points.values()), 4)

    @property
    def grade_total(self) -> float:
        """The whole grade: the code's, the notebook's and the answers' scored so far."""
        return round(self.total + self.notebook.points + sum(p for p in self.manual.values() if p is not None), 4)

    @property
    def unscored(self) -> list[str]:
        """The questions (Q1, ...) whose answer has no points from the TA yet."""
        return [q.label for q in QUESTIONS if self.manual[q.key] is None]

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


def notebook_of(name: str, path: Path) -> Path | None:
    """The team's lab.ipynb: next to the rnn_lm.py of a team's folder; a single-file submission has none."""
    return path.parent / NOTEBOOK_NAME if "/" in name else None


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


def notebook_findings(report: NotebookReport) -> dict[str, str]:
    """What each notebook check found, in a few words: check key -> text."""
    if report.status != READ:
        return {c.key: report.status for c in NOTEBOOK_CHECKS}
    if not report.executed:
        return {c.key: "the notebook was never run" for c in NOTEBOOK_CHECKS}
    holding = sum(holds for holds, _ in report.claims)
    return {"ran_in_order": "; ".join(report.order_problems) or "execution counts in order",
            "no_errors": "; ".join(report.errors) or "no error stored",
            "claims_printed": (report.rerun.line if report.rerun_withholds else
                               f"{holding} of {len(report.claims)} claims hold on your run" if report.claims
                               else "no claim printed: run the experiment and the claims cell")}


def answer_line(grade: Grade, q) -> str:
    points = grade.manual[q.key]
    answer = grade.notebook.answers[q.key]
    scored = "not scored yet" if points is None else f"{points:g} / {q.points}"
    return f"  {q.label}: {scored}" + ("" if answer.state == ANSWERED else f" ({answer.state})")


def feedback_text(grade: Grade) -> str:
    """What the student reads: scores and each check's feedback; never the submission's output."""
    lines = [f"Submission: {grade.file}", f"Authors: {grade.authors_line or 'none named'}",
             f"Status: {grade.status_line}", f"Code: {grade.total:g} / {TOTAL_POINTS}", ""]
    for t in TASKS:
        lines.append(f"Task {t.number} ({t.title}): {grade.task_points[t.key]:g} / {t.points}")
        for _, c in checks_of_task(grade, t.number):
            mark = "PASS" if c["passed"] else "FAIL"
            lines.append(f"  [{mark}] " + c["feedback"].replace("\n", "\n         "))
        lines.append("")
    found, passed = notebook_findings(grade.notebook), grade.notebook.passed
    lines.append(f"Notebook ({NOTEBOOK_NAME}, read as committed, never run): {grade.notebook.points:g} / {NOTEBOOK_POINTS}")
    for c in NOTEBOOK_CHECKS:
        lines.append(f"  [{'PASS' if passed[c.key] else 'FAIL'}] {plural(c.points, 'point')} if {c.title}: "
                     f"{found[c.key]}")
    lines += [f"  {'HOLDS' if holds else 'FAILS'} on your run: {text}" for holds, text in grade.notebook.claims]
    if grade.notebook.numbers_line:
        lines.append(f"  Your numbers (the results table your notebook printed): {grade.notebook.numbers_line}")
    lines += ["", "Discussion answers (scored by your TA):", *(answer_line(grade, q) for q in QUESTIONS), ""]
    pending = f" (not scored yet: {', '.join(grade.unscored)})" if grade.unscored else ""
    lines.append(f"Total: {grade.grade_total:g} / {GRADE_POINTS}{pending}")
    return "\n".join(lines) + "\n"


def gradescope_results(grade: Grade) -> dict:
    """Gradescope's results.json: one test a check, each worth its share of the task's points."""
    tests = []
    for t in TASKS:
        points = check_points(grade, t)
        for name, c in checks_of_task(grade, t.number):
            tests.append({"name": f"Task {t.number}: {name}", "score": points[name] if c["passed"] else 0.0,
                          "max_score": points[name], "output": c["feedback"], "visibility": "visible"})
    found, passed = notebook_findings(grade.notebook), grade.notebook.passed
    for c in NOTEBOOK_CHECKS:
        tests.append({"name": f"Notebook: {c.title}", "score": float(c.points if passed[c.key] else 0),
                      "max_score": c.points, "output": found[c.key], "visibility": "visible"})
    for q in QUESTIONS:  # only once the TA has scored them: Gradescope shows a test's score as final
        if grade.manual[q.key] is not None:
            tests.append({"name": f"{q.label} (discussion answer, scored by your TA)", "score": grade.manual[q.key],
                          "max_score": q.points, "output": answer_line(grade, q).strip(), "visibility": "visible"})
    pending = f"\nAnswers not scored yet: {', '.join(grade.unscored)}" if grade.unscored else ""
    output = f"Authors: {grade.authors_line or 'none named'}\nStatus: {grade.status_line}{pending}"
    return {"score": grade.grade_total, "output": output, "tests": tests,
            "leaderboard": [], "visibility": "visible", "stdout_visibility": "hidden"}


def output_folders(grades: list[Grade]) -> list[str]:
    """One folder per submission, ``teams/NAME`` under ``--out``: NAME is the student's folder or the
    file's stem, made safe (letters, digits, ``._-``; never ``.`` or ``..``) and unique (``alice.py``
    next to ``alice/rnn_lm.py`` gets ``alice_``)."""
    used, names = set(), []
    for g in grades:
        raw = g.file.split("/")[0] if "/" in g.file else Path(g.file).stem
        folder = re.sub(r"[^A-Za-z0-9._-]", "_", raw).strip(".") or "submission"
        while folder in used:
            folder += "_"
        used.add(folder)
        names.append(f"{TEAMS_FOLDER}/{folder}")
    return names


FINAL_GRADES_COLUMNS = ["file", *(t.key for t in TASKS), "notebook", *(q.key for q in QUESTIONS), "total_points_earned",
                        "percent_correct", "grading_status", "notebook_status", "notebook_numbers", "authors"]


def final_grades_row(g: Grade) -> list[str]:
    """A row of final_grades.csv: a question the TA has not scored yet is blank (not 0)."""
    manual = ["" if g.manual[q.key] is None else f"{g.manual[q.key]:g}" for q in QUESTIONS]
    return [spreadsheet_safe(g.file), *(f"{g.task_points[t.key]:g}" for t in TASKS), f"{g.notebook.points:g}", *manual,
            f"{g.grade_total:g}", f"{100 * g.grade_total / GRADE_POINTS:.2f}", spreadsheet_safe(g.status_line),
            spreadsheet_safe(g.notebook.summary), spreadsheet_safe(g.notebook.numbers_line), spreadsheet_safe(g.authors_line)]


def write_outputs(grades: list[Grade], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "final_grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FINAL_GRADES_COLUMNS)
        writer.writerows(final_grades_row(g) for g in grades)
    for g, folder in zip(grades, output_folders(grades)):
        (out / folder).mkdir(parents=True, exist_ok=True)
        try:
            (out / folder / "results.json").write_text(json.dumps(gradescope_results(g), indent=1))
            (out / folder / "feedback.txt").write_text(printable(feedback_text(g)))
            (out / folder / "log.txt").write_text(printable(g.log))
        except Exception as err:  # noqa: BLE001 - one team's files, never the class's
            (out / folder / "feedback.txt").write_text(f"The grader could not write this feedback ({type(err).__name__}); "
                                                       "see final_grades.csv for the points.\n")
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


def grade_all(submissions: dict[str, Path], key: bytes, workers: int, timeout: float, memory_mb: int,
              sandboxed: bool = True, progress: bool = True) -> list[Grade]:
    """Every submission's code judged, and its team's notebook read: one Grade each, in order."""
    from tqdm.auto import tqdm

    mode = "bwrap" if sandboxed else "none"
    bar = tqdm(total=len(submissions), desc="grading", unit="submission", disable=not progress)
    # The judges are spawned (they start clean, not as copies of this process) with this run's name,
    # which names their cgroups: the run removes its own at the end, whatever became of a judge.
    run = os.environ.setdefault(RUN_VARIABLE, uuid.uuid4().hex[:12])
    context = multiprocessing.get_context("spawn")
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
    if still := remove_cgroups_of_run(run):  # killed processes the kernel had not released in two minutes
        print(f"rnnlab grade: {len(still)} sandbox cgroups could not be removed (remove them later: rmdir "
              f"{' '.join(map(str, still))})", file=sys.stderr)
    ordered = [grades[name] for name in submissions]
    for g in ordered:
        g.notebook = read_notebook(notebook_of(g.file, submissions[g.file]))
    note_shared_names(ordered)
    return ordered


def rerun_teams(grades: list[Grade], submissions: dict[str, Path], how_many: str, key: bytes, workers: int,
                timeout: float, memory_mb: int, sandboxed: bool = True, progress: bool = True) -> None:
    """``--rerun``: the numbers that the notebooks of ``how_many`` teams printed (a number, drawn at random
    with the course secret as seed, so the same class draws the same teams; or ``all``), against a run the
    course certifies (``rnnlab.rerun``). Runs after every team's code is graded, so a re-run never shares
    the machine with the judge; ``workers`` runs at once, each held to one core as a judge is."""
    from concurrent.futures import ThreadPoolExecutor

    from rnnjudge.judge import UnreadableSubmission, submission_code
    from rnnjudge.sandbox import Limits
    from rnnlab.rerun import CourseRuns, rerun_team
    from tqdm.auto import tqdm

    teams = [g for g in grades if g.notebook.status == READ]
    if how_many != "all":
        teams = sorted(random.Random(key).sample(teams, min(int(how_many), len(teams))), key=grades.index)
    mode = "bwrap" if sandboxed else "none"
    limits = Limits(memory_mb=memory_mb, cpu_seconds=int(timeout) + 5)
    course_runs = CourseRuns(mode, limits, timeout)

    def one(grade: Grade) -> None:
        try:
            code = submission_code(submissions[grade.file])
            with tempfile.TemporaryFile() as log:  # what the team's code printed: not shown (as the judge's worker)
                grade.notebook.rerun = rerun_team(code, grade.notebook, not_accepted(grade), course_runs, mode,
                                                  limits, timeout, log)
        except UnreadableSubmission as err:
            grade.notebook.rerun = Rerun(NOT_CONFIRMED, str(err))
        except Exception as err:  # noqa: BLE001 - the grader's own trouble: this team's status, the class goes on
            grade.notebook.rerun = Rerun(NOT_CONFIRMED, f"grader error in the re-run: {type(err).__name__}: {err}")

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # each re-run waits on a process of its own
        list(tqdm(pool.map(one, teams), total=len(teams), desc="re-running", unit="team", disable=not progress))


def not_accepted(grade: Grade) -> list[str]:
    """The tasks the judge did not give full marks: ``["Task 3 (lm_loss)"]``."""
    return [f"Task {t.number} ({t.title})" for t in TASKS if grade.task_points[t.key] < t.points - 1e-6]


def rerun_count(text: str) -> str:
    if text == "all" or (text.isdigit() and int(text) > 0):
        return text
    raise argparse.ArgumentTypeError("give a number of teams (e.g. --rerun 10) or all")


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


def at_deadline_rows(grades: list[Grade], at_deadline: deadline.AtDeadline, submissions: dict[str, Path]) -> list[Grade]:
    """Every submission's row, in the class's order: what the deadline did noted on each, and a row of no
    points for a repository with nothing to grade before the deadline."""
    by_file = {g.file: g for g in grades}
    for file, reason in at_deadline.not_submitted.items():
        by_file[file] = Grade(file=file, status=f"not graded: {reason}")
    for file, notes in at_deadline.notes.items():
        by_file[file].notes.extend(notes)
    return [by_file[name] for name in submissions]


def cmd_grade(args: argparse.Namespace) -> int:
    # With --deadline, each repository's files as of its commit are read into this folder, never into the student's.
    with tempfile.TemporaryDirectory(prefix="rnnlab-deadline-") as staging:
        return grade_class(args, Path(staging))


def grade_class(args: argparse.Namespace, staging: Path) -> int:
    try:
        submissions = find_submissions(args.submissions)
    except (FileNotFoundError, ValueError) as err:
        print(f"rnnlab grade: {printable(str(err))}", file=sys.stderr)
        return 2
    if not submissions:
        print(f"rnnlab grade: no {' or '.join(SUBMISSION_SUFFIXES)} files in {', '.join(args.submissions)}", file=sys.stderr)
        return 2
    if args.roster and not args.gradebook:
        print("rnnlab grade: --roster goes with --gradebook canvas|moodle|csv", file=sys.stderr)
        return 2
    if problem := refusal(Path(args.out)):
        print(f"rnnlab grade: {problem}", file=sys.stderr)
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
        scores = read_sheet(Path(args.manual), list(submissions)) if args.manual else None
        if args.roster:  # read now: a roster that cannot be used should not wait for the grading
            read_roster(Path(args.roster))
        ownership = (classroom.map_submissions(classroom.read_classroom(Path(args.classroom)), list(submissions))
                     if args.classroom else None)
    except (NoSecret, ManualScoresError, GradebookError, classroom.ClassroomError) as err:
        print(f"rnnlab grade: {printable(str(err))}", file=sys.stderr)
        return 2
    out = Path(args.out)
    at_deadline = deadline.stage(submissions, args.deadline, staging) if args.deadline else None
    graded = at_deadline.submissions if at_deadline is not None else submissions
    grades = grade_all(graded, key, args.workers, args.timeout, args.memory_mb,
                       sandboxed=not args.no_sandbox, progress=not args.no_progress)
    if at_deadline is not None:
        grades = at_deadline_rows(grades, at_deadline, submissions)
    if args.rerun:
        rerun_teams(grades, graded, args.rerun, key, args.workers, args.rerun_timeout, args.memory_mb,
                    sandboxed=not args.no_sandbox, progress=not args.no_progress)
    if scores is not None:
        merge(grades, scores)
    if ownership is not None:
        by_file = {g.file: g for g in grades}
        for file, notes in ownership.check_authors(grades).items():
            by_file[file].notes.extend(notes)
    told, gradebook_failed, regrading = [], False, out.exists()
    with replacing(out) as new_out:
        write_outputs(grades, new_out)
        write_class_report(grades, graded, new_out, args.similarity_threshold, ownership)
        new_sheet = write_answers_sheet(grades, new_out, output_folders(grades))
        if args.gradebook:
            try:
                told = write_gradebook(args.gradebook, grades, new_out, Path(args.roster) if args.roster else None,
                                       args.assignment, ownership, shown_as=out)
            except GradebookError as err:
                print(f"rnnlab grade: {printable(str(err))}", file=sys.stderr)
                gradebook_failed = True
    mean = sum(g.total for g in grades) / len(grades)
    print(f"graded {len(grades)} submissions: mean code {mean:.1f} / {TOTAL_POINTS}; wrote {out / 'final_grades.csv'}, "
          f"per-team results.json, feedback.txt, log.txt and answers.html under {out / TEAMS_FOLDER}, "
          f"{out / 'score_distribution.png'}, {out / 'report.html'}, {out / 'answers.html'}"
          + (" (replacing what the earlier grading wrote there)" if regrading else ""))
    sheet = out / SHEET_NAME
    print(f"wrote {sheet} for the TA's points" if new_sheet else
          f"kept {sheet}, which was there already (it may hold a TA's points; delete it for a fresh one)")
    unscored = [g for g in grades if g.unscored]
    if unscored:
        print(f"{len(unscored)} submissions have answers not scored yet: fill in {sheet} next to "
              f"{out / 'answers.html'}, then run again with --manual {sheet}")
    if ownership is not None:
        print(printable("\n".join(classroom.summary(ownership))))  # folder names are the students' text
    if told:
        print(printable("\n".join(told)))  # file names and AUTHORS entries are the students' text
    if gradebook_failed:
        return 1
    if args.compare:
        differences = compare_with_otter(grades, Path(args.compare))
        print(f"{len(differences)} submissions graded differently in {args.compare}" + (":" if differences else "."))
        for line in differences:
            print("  " + printable(line))
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("grade", help="grade submissions without Docker",
                       description="Grade .py (or .ipynb) submissions: a judge process per submission runs the "
                                   "hidden checks against a sandboxed worker that alone runs the submission's code.")
    p.add_argument("submissions", nargs="+", help="submission files and/or folders of them")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=int, default=max(1, os.cpu_count() or 1),
                   help="submissions graded at once (default: one per core; each submission is held to one core)")
    p.add_argument("--timeout", type=float, default=TIME_BUDGET_S,
                   help=f"seconds per submission (default {TIME_BUDGET_S:.0f}, as the autograder zip has it)")
    p.add_argument("--memory-mb", type=int, default=4096, help="address-space limit of the worker (default 4096)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="grade without bubblewrap (not safe against hostile code; every status says so)")
    p.add_argument("--deadline", type=deadline.deadline_time, metavar="ISO_TIME",
                   help="grade each team folder that is a git repository as its last commit before this date-time "
                        "(2026-12-04T23:59:00+01:00; without a time zone, this machine's), read with git, never "
                        "checked out; later commits are named in the row's status. Commit dates are the students' own")
    p.add_argument("--compare", metavar="OTTER_CSV",
                   help="list the submissions whose grade in this otter final_grades.csv differs from the judge's")
    p.add_argument("--secret", metavar="FILE",
                   help="the course secret the hidden inputs derive from (default: $RNNJUDGE_SECRET, else "
                        "autograder/course.secret, which `rnnlab release` creates)")
    p.add_argument("--rerun", type=rerun_count, metavar="N|all",
                   help="compare the numbers and claims the notebooks of N teams drawn at random (or all) printed "
                        "with a run of the experiment the course certifies: a notebook it does not confirm loses the "
                        "points of 'claims printed' (see GRADING.md for the cost)")
    p.add_argument("--rerun-timeout", type=float, default=1200.0,
                   help="seconds per run of the experiment (default 1200); one that does not finish is 'not confirmed'")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--manual", metavar="SHEET",
                   help=f"merge the TA's points for the answers from this {SHEET_NAME} (refused, before any grading, "
                        "when its teams, questions or points do not match the class)")
    p.add_argument("--gradebook", choices=FORMATS,
                   help="also write gradebook_FORMAT.csv: one row per student (of each repository with --classroom, "
                        "else of each team's AUTHORS), in the format Canvas or Moodle imports, or a plain CSV")
    p.add_argument("--classroom", metavar="CSV",
                   help="GitHub Classroom's classroom_roster.csv, or an assignment's grades export: each folder's "
                        "students are then the ones the Classroom says own its repository (folders named as "
                        "`gh classroom clone student-repos` names them), and AUTHORS is only a cross-check")
    p.add_argument("--roster", metavar="CSV",
                   help="with --gradebook: the course's roster (a Canvas or Moodle gradebook export) whose identifiers "
                        "the gradebook uses; students that match no row are listed apart")
    p.add_argument("--assignment", default=DEFAULT_ASSIGNMENT,
                   help=f"the gradebook's grade column (default {DEFAULT_ASSIGNMENT!r}; for Canvas, the column of "
                        "an existing assignment as its export names it, 'Lab 3 (1234)')")
    add_report_arguments(p)
    p.set_defaults(func=cmd_grade)
