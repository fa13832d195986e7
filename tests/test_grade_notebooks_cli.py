"""`rnnlab grade` on a class of team folders (GitHub Classroom clones) with their notebooks, end to end:
the answers sheet and manual_scores.csv, the TA's points merged with --manual on a re-grade, a sheet
that does not fit refused before any grading, and the Canvas gradebook with a roster."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

import student_notebooks as sn
from rnnlab.tasks import GRADE_POINTS, NOTEBOOK_POINTS, QUESTIONS
from conftest import RUNS_THE_JUDGE

pytestmark = RUNS_THE_JUDGE

REPO = Path(__file__).resolve().parent.parent
RNNLAB = [sys.executable, "-m", "rnnlab.cli"]
SKELETON = (REPO / "assignment" / "rnn_lm.py").read_text()  # graded quickly: every code check fails
TEAMS = {"alice": ["Ada Lovelace (1234567, @ada)", "Alan Turing (7654321, @alan)"],
         "bob": ["Grace Hopper", "Emmy Noether (5550002)"]}  # two teams: one judge each, at once
ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section
"Lovelace, Ada",101,1234567,ada,Lab A
"Turing, Alan",102,7654321,alan,Lab A
"Hopper, Grace",103,5550001,grace,Lab B
"""


def grade(folder: Path, out: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([*RNNLAB, "grade", str(folder), "--out", str(out), "--workers", "2", "--timeout", "60",
                           "--no-progress", *flags], capture_output=True, text=True, cwd=REPO, timeout=900)


def rows_of(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r[next(iter(r))]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classroom")
    for team, authors in TEAMS.items():
        (folder / team).mkdir()
        (folder / team / "rnn_lm.py").write_text(SKELETON.replace("AUTHORS: list[str] = []", f"AUTHORS = {authors!r}"))
    sn.write(sn.answered(sn.run(sn.template())), folder / "alice")
    (folder / "bob" / "lab.ipynb").write_text('{"cells": [')  # not valid JSON
    out = tmp_path_factory.mktemp("grades")
    proc = grade(folder, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"folder": folder, "out": out, "stdout": proc.stdout}


def test_grading_a_class_writes_the_answers_sheet_and_the_notebook_columns(graded):
    out = graded["out"]
    rows = rows_of(out / "final_grades.csv")
    assert rows["alice/rnn_lm.py"]["notebook"] == f"{NOTEBOOK_POINTS}"
    assert rows["alice/rnn_lm.py"]["notebook_status"] == "run top to bottom; no error; claims printed: 2 of 3 hold"
    assert "not valid JSON" in rows["bob/rnn_lm.py"]["notebook_status"]
    assert all(rows[t][q.key] == "" for t in rows for q in QUESTIONS)
    sheet = rows_of(out / "manual_scores.csv")
    assert set(sheet) == set(rows) and sheet["alice/rnn_lm.py"]["q1 (max 5)"] == "" and sheet["bob/rnn_lm.py"]["q1 (max 5)"] == "0"
    html = (out / "answers.html").read_text()
    assert html.count("alice") >= len(QUESTIONS) and "3.10e-07" in html
    assert (out / "teams" / "alice" / "answers.html").is_file() and (out / "teams" / "bob" / "answers.html").is_file()
    assert "answers not scored yet" in graded["stdout"] and "--manual" in graded["stdout"]


def test_a_sheet_that_does_not_fit_is_refused_before_any_grading(graded, tmp_path):
    sheet = tmp_path / "manual_scores.csv"
    sheet.write_text((graded["out"] / "manual_scores.csv").read_text().replace("alice/rnn_lm.py", "alcie/rnn_lm.py"))
    before = (graded["out"] / "final_grades.csv").read_text()
    proc = grade(graded["folder"], graded["out"], "--manual", str(sheet))
    assert proc.returncode == 2 and "did you mean 'alice/rnn_lm.py'?" in proc.stderr
    assert "no row for 'alice/rnn_lm.py'" in proc.stderr and "no score was merged" in proc.stderr
    assert (graded["out"] / "final_grades.csv").read_text() == before


def test_regrading_with_the_tas_sheet_merges_it_and_exports_the_gradebook(graded, tmp_path):
    out, sheet = graded["out"], graded["out"] / "manual_scores.csv"
    text = sheet.read_text().splitlines()
    text[1] = text[1].replace(",,,,,,", ",5,4,3,2,1,0")  # the TA scores alice's six answers
    sheet.write_text("\n".join(text) + "\n")
    filled = sheet.read_text()
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    proc = grade(graded["folder"], out, "--manual", str(sheet), "--gradebook", "canvas", "--roster", str(roster),
                 "--assignment", "Lab 3 (1234)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sheet.read_text() == filled, "the TA's sheet is kept"
    rows = rows_of(out / "final_grades.csv")
    assert [rows["alice/rnn_lm.py"][q.key] for q in QUESTIONS] == ["5", "4", "3", "2", "1", "0"]
    assert float(rows["alice/rnn_lm.py"]["total_points_earned"]) == NOTEBOOK_POINTS + 15
    assert float(rows["bob/rnn_lm.py"]["total_points_earned"]) == 0
    assert "Q2: 4 / 5" in (out / "teams" / "alice" / "feedback.txt").read_text()
    with open(out / "gradebook_canvas.csv", newline="") as f:
        book = list(csv.reader(f))
    assert book[0][-1] == "Lab 3 (1234)" and book[1][-1] == f"{GRADE_POINTS}"
    assert book[2:] == [["Lovelace, Ada", "101", "1234567", "ada", "Lab A", "20"],
                        ["Turing, Alan", "102", "7654321", "alan", "Lab A", "20"],
                        ["Hopper, Grace", "103", "5550001", "grace", "Lab B", "0"]]
    assert rows_of(out / "gradebook_unmatched.csv") == {
        "Emmy Noether (5550002)": {"as written in AUTHORS": "Emmy Noether (5550002)", "submission": "bob/rnn_lm.py",
                                   "points": "0"}}
    assert "match no roster row" in proc.stdout
