"""`rnnlab grade --classroom --roster` end to end, on a class laid out as `gh classroom clone
student-repos` lays it out (one folder per repository, `<assignment>-<username>`), with GitHub
Classroom's roster and a Canvas export: every student with a repository gets exactly one Canvas row
with her own repository's points whatever the AUTHORS say; the student without a repository is
named; team folders named like the class's output files, and a second grading into the same --out,
break nothing and leave nothing stale. With --deadline, each repository is graded as its last commit
before it."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import RUNS_THE_JUDGE
from submission_bank import SOLUTION
from rnnlab.tasks import GRADE_POINTS, TOTAL_POINTS

pytestmark = RUNS_THE_JUDGE

REPO = Path(__file__).resolve().parent.parent
SKELETON = (REPO / "assignment" / "rnn_lm.py").read_text()  # graded quickly: every code check fails
CLASSROOM_ROSTER = """identifier,github_username,github_id,name
1234567,ada,101,Ada Lovelace
5550001,grace,103,Grace Hopper
7654321,alan,102,Alan Turing
"""
CANVAS = """Student,ID,SIS User ID,SIS Login ID,Section
    Points Possible,,,,
"Lovelace, Ada",1,1234567,ada@uni.edu,A
"Hopper, Grace",3,5550001,grace@uni.edu,B
"Turing, Alan",2,7654321,alan@uni.edu,A
"""
DEADLINE = "2026-12-04T23:59:00+01:00"
ON_TIME, LATE = "2026-12-04T20:00:00+00:00", "2026-12-05T09:00:00+00:00"
REPOSITORIES = {  # folder -> (the code graded, AUTHORS as the students wrote them)
    "rnn-lab-ada": (SOLUTION, ["Student A"]),  # the placeholder, never filled in
    "rnn-lab-grace": (SKELETON, ["Ada Lovelace (1234567, @ada)"]),  # a classmate of another repository
    "gradebook_conflicts.csv": (SKELETON, []),  # named like the class's outputs, and no student's repository
    "report.html": (SKELETON, []),
}
COMMITS = {"rnn-lab-ada": [(ON_TIME, SOLUTION), (LATE, SKELETON)],  # a late push that breaks it: not graded
           "rnn-lab-grace": [(ON_TIME, SKELETON)],
           "report.html": [(LATE, SKELETON)]}  # nothing before the deadline; gradebook_conflicts.csv is no repository


def with_authors(code: str, authors: list[str]) -> str:
    return code.replace("AUTHORS: list[str] = []", f"AUTHORS = {authors!r}")


def commit(repository: Path, code: str, date: str) -> None:
    (repository / "rnn_lm.py").write_text(code)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@uni.edu", "GIT_COMMITTER_NAME": "Ada",
           "GIT_COMMITTER_EMAIL": "ada@uni.edu", "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    for command in (["init", "-q"], ["add", "rnn_lm.py"], ["commit", "-qm", "work"]):
        subprocess.run(["git", "-C", str(repository), *command], check=True, env=env)


def grade(folder: Path, out: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnlab.cli", "grade", str(folder), "--out", str(out),
                           "--workers", "2", "--timeout", "60", "--no-progress", "--no-similarity", *flags],
                          capture_output=True, text=True, cwd=REPO, timeout=900)


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    submissions = root / "rnn-lab-submissions"  # as `gh classroom clone student-repos` names it
    for folder, (code, authors) in REPOSITORIES.items():
        (submissions / folder).mkdir(parents=True)
        for date, committed in COMMITS.get(folder, []):  # the folder then holds the last commit's code
            commit(submissions / folder, with_authors(committed, authors), date)
        if folder not in COMMITS:
            (submissions / folder / "rnn_lm.py").write_text(with_authors(code, authors))
    (root / "classroom_roster.csv").write_text(CLASSROOM_ROSTER)
    (root / "canvas.csv").write_text(CANVAS)
    out = root / "grades"
    flags = ("--classroom", str(root / "classroom_roster.csv"), "--gradebook", "canvas", "--roster",
             str(root / "canvas.csv"), "--assignment", "Lab 3 (1234)", "--deadline", DEADLINE)
    first = grade(submissions, out, *flags)
    assert first.returncode == 0, first.stderr[-3000:]
    return {"root": root, "submissions": submissions, "out": out, "flags": flags, "first": first}


def test_each_student_gets_one_row_with_her_own_repositorys_points(graded):
    book = csv_rows(graded["out"] / "gradebook_canvas.csv")
    assert book[1][-1] == f"{GRADE_POINTS}"
    assert sorted(book[2:]) == [["Hopper, Grace", "3", "5550001", "grace@uni.edu", "B", "0"],
                                ["Lovelace, Ada", "1", "1234567", "ada@uni.edu", "A", f"{TOTAL_POINTS}"]]
    assert not (graded["out"] / "gradebook_unmatched.csv").exists()


def test_each_repository_is_graded_as_its_last_commit_before_the_deadline(graded):
    rows = {r["file"]: r for r in csv.DictReader(open(graded["out"] / "final_grades.csv", newline=""))}
    assert "the last before the deadline 2026-12-04 22:59 UTC; 1 late commit not graded" in rows[
        "rnn-lab-ada/rnn_lm.py"]["grading_status"]
    assert "(commit dates are the students' own" in rows["rnn-lab-ada/rnn_lm.py"]["grading_status"]
    assert "not a git repository: graded as it is" in rows["gradebook_conflicts.csv/rnn_lm.py"]["grading_status"]
    assert rows["report.html/rnn_lm.py"]["grading_status"] == ("not graded: no commit before the deadline 2026-12-04 "
                                                              "22:59 UTC (commit dates are the students' own)")
    assert (graded["submissions"] / "rnn-lab-ada" / "rnn_lm.py").read_text() == with_authors(SKELETON, ["Student A"])


def test_authors_that_disagree_are_notes_on_the_row_and_in_the_report(graded):
    rows = {r["file"]: r for r in csv.DictReader(open(graded["out"] / "final_grades.csv", newline=""))}
    assert "AUTHORS names 'Student A', not a student of this repository" in rows["rnn-lab-ada/rnn_lm.py"]["grading_status"]
    assert ("AUTHORS names 'Ada Lovelace (1234567, @ada)', not a student of this repository"
            in rows["rnn-lab-grace/rnn_lm.py"]["grading_status"])
    report = (graded["out"] / "report.html").read_text()
    assert "From GitHub Classroom (classroom_roster.csv)" in report and "Student A" in report


def test_the_student_without_a_repository_and_the_folders_of_nobody_are_named(graded):
    stdout, report = graded["first"].stdout, (graded["out"] / "report.html").read_text()
    assert "no repository in this class: Alan Turing (7654321, @alan)" in stdout and "Alan Turing" in report
    for folder in ("gradebook_conflicts.csv", "report.html"):
        assert (f"no student's repository: {folder}/rnn_lm.py: no github_username of classroom_roster.csv ends the "
                f"folder name '{folder}'") in stdout
    assert "download classroom_roster.csv again" in stdout


def test_team_folders_named_like_output_files_get_their_own_outputs(graded):
    out = graded["out"]
    assert csv_rows(out / "final_grades.csv")[0][0] == "file" and (out / "report.html").is_file()
    for folder in REPOSITORIES:
        assert (out / "teams" / folder / "feedback.txt").is_file(), folder


def test_a_second_grading_replaces_the_outputs_whole_and_keeps_the_tas_sheet(graded, tmp_path):
    out, sheet = graded["out"], graded["out"] / "manual_scores.csv"
    scored = sheet.read_text().replace(",0,0,0,0,0,0", ",5,4,3,2,1,0", 1)  # the TA has scored a team by hand
    assert scored != sheet.read_text()
    sheet.write_text(scored)
    gone = tmp_path / "report.html"
    (graded["submissions"] / "report.html").rename(gone)  # a team leaves the class
    try:
        second = grade(graded["submissions"], out, *graded["flags"])
    finally:
        gone.rename(graded["submissions"] / "report.html")
    assert second.returncode == 0, second.stderr[-3000:]
    assert sorted(p.name for p in (out / "teams").iterdir()) == ["gradebook_conflicts.csv", "rnn-lab-ada",
                                                                 "rnn-lab-grace"], "the team gone left nothing"
    assert sheet.read_text() == scored and "kept" in second.stdout
    assert "(replacing what the earlier grading wrote there)" in second.stdout
    assert "replacing" not in graded["first"].stdout
    assert (out / "gradebook_canvas.csv").is_file()
    assert sorted(p.name for p in graded["root"].iterdir()) == ["canvas.csv", "classroom_roster.csv", "grades",
                                                                "rnn-lab-submissions"], "no temporary folder left"
