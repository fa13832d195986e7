"""The notebook half of the grade, without the judge: reading students' lab.ipynb (run in order, out of
order, never, with an error, answers as the placeholder or with markup, not JSON), the answers sheet,
manual_scores.csv and its merge, the gradebook files, and the release's points and rubrics."""

import csv
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

import student_notebooks as sn
from rnnlab import release
from rnnlab.answers_sheet import write_answers_sheet
from rnnlab.grade import FINAL_GRADES_COLUMNS, Grade, feedback_text, output_folders, write_outputs
from rnnlab.gradebook import GradebookError, write_gradebook
from rnnlab.manual_scores import SHEET_COLUMNS, ManualScoresError, merge, read_sheet, write_sheet
from rnnlab.notebook import ANSWERED, EMPTY, NOT_FOUND, PLACEHOLDER, READ, read_notebook
from rnnlab.questions import QuestionsError, discussion_questions
from rnnlab.tasks import GRADE_POINTS, NOTEBOOK_POINTS, QUESTIONS, TASKS, TOTAL_POINTS

REPO = Path(__file__).resolve().parent.parent


def notebook_at(tmp_path, nb, team="team") -> Path:
    return sn.write(nb, tmp_path / team)


# ----------------------------------------------------------------------------
# Reading a student's notebook
# ----------------------------------------------------------------------------

def test_notebook_run_in_order_earns_its_points_and_gives_the_teams_numbers(tmp_path):
    report = read_notebook(notebook_at(tmp_path, sn.answered(sn.run(sn.template()))))
    assert report.status == READ and report.ran_in_order and not report.errors
    assert report.points == NOTEBOOK_POINTS
    assert report.numbers["RNN"]["recall"] == "0.125" and report.numbers["LSTM"]["recall"] == "1.000"
    assert report.numbers["RNN"]["grad@21 init"] == "3.10e-07" and report.numbers["LSTM fb1"]["grad@21 trained"] == "1.10e+00"
    assert report.numbers["RNN"]["best val ppl"] == "23.84 @1100" and report.numbers["RNN"]["vs floor"] == "+8.1%"
    assert report.floor == "22.06"
    # the experiment's claims as printed (wrapped lines joined), not the sweep's, printed under its table
    assert [holds for holds, _ in report.claims] == [True, True, False]
    assert report.claims[2][1].startswith("The corpus's floor is perplexity 22.06.") and "8.1% above" in report.claims[2][1]
    assert "claims printed: 2 of 3 hold" in report.summary


def test_answers_are_found_under_their_questions_with_markup_as_written(tmp_path):
    report = read_notebook(notebook_at(tmp_path, sn.answered(sn.run(sn.template()))))
    assert {k: a.state for k, a in report.answers.items()} == {q.key: ANSWERED for q in QUESTIONS}
    assert report.answers["q1"].text == sn.ANSWERS[1]  # two paragraphs and a list: all of it
    assert report.answers["q3"].text == sn.ANSWERS[3]  # markdown and HTML kept as written (escaped when shown)
    assert report.answers["q6"].text == sn.ANSWERS[6]


def test_notebook_run_out_of_order_says_which_cells(tmp_path):
    counts = list(range(1, len(sn.code_cells(sn.template())) + 1))
    counts[3], counts[5] = counts[5], counts[3]
    report = read_notebook(notebook_at(tmp_path, sn.run(sn.template(), counts)))
    assert not report.ran_in_order and report.passed == {"ran_in_order": False, "no_errors": True, "claims_printed": True}
    assert report.order_problems == ["code cell 5 (In [5]) ran before code cell 4 (In [6]) above it"]
    assert report.points == NOTEBOOK_POINTS - 2


def test_a_cell_left_unrun_above_the_last_run_one_is_not_top_to_bottom(tmp_path):
    counts = list(range(1, len(sn.code_cells(sn.template())) + 1))
    counts[1] = None
    report = read_notebook(notebook_at(tmp_path, sn.run(sn.template(), counts)))
    assert report.order_problems == [f"code cell 2 never run before code cell {len(counts)}"]


def test_never_executed_notebook_earns_nothing_and_keeps_its_placeholders(tmp_path):
    report = read_notebook(notebook_at(tmp_path, sn.template()))
    assert report.status == READ and not report.executed and report.points == 0
    assert report.summary.startswith("never run")
    assert {a.state for a in report.answers.values()} == {PLACEHOLDER}
    assert all(a.is_blank for a in report.answers.values())


def test_error_cell_is_named_and_costs_the_points_of_what_did_not_run(tmp_path):
    report = read_notebook(notebook_at(tmp_path, sn.run(sn.template(), error_in=3)))
    assert report.errors == ["code cell 3: NotImplementedError: Task 1: implement VanillaRNNLM"]
    assert report.passed == {"ran_in_order": True, "no_errors": False, "claims_printed": False}
    assert report.points == 2 and report.numbers == {}


def test_answers_left_empty_as_placeholder_or_with_their_question_deleted(tmp_path):
    nb = sn.answered(sn.template(), {1: "Only Q1 answered.", 2: "", 4: "Q4's answer."})
    cell = next(c for c in nb.cells if "**Q1.**" in c.source)
    cell.source = cell.source.replace("**Q4.**", "Q4:")  # a student who rewrote the question's marker
    report = read_notebook(notebook_at(tmp_path, nb))
    states = {k: a.state for k, a in report.answers.items()}
    assert states == {"q1": ANSWERED, "q2": EMPTY, "q3": ANSWERED, "q4": NOT_FOUND, "q5": PLACEHOLDER,
                      "q6": PLACEHOLDER}
    # Q4's text and answer show under Q3, where the TA sees them: nothing a team wrote is lost
    assert report.answers["q3"].text.startswith("Q4: *(5 points)* Compare") and "Q4's answer." in report.answers["q3"].text


def test_answers_split_over_several_cells_are_still_found(tmp_path):
    nb = sn.template()
    index = next(i for i, c in enumerate(nb.cells) if "**Q1.**" in c.source)
    head, tail = nb.cells[index].source.split("**Q4.**")
    nb.cells[index].source = head.replace(sn.PLACEHOLDER, "An answer.", 1)
    nb.cells[index + 1:index + 1] = [sn.nbformat.v4.new_markdown_cell("**Q4.**" + tail.replace(sn.PLACEHOLDER, "Q4's.", 1))]
    report = read_notebook(notebook_at(tmp_path, nb))
    assert report.answers["q1"].text == "An answer." and report.answers["q4"].text.startswith("Q4's.")
    assert report.answers["q5"].state == PLACEHOLDER


@pytest.mark.parametrize("content, status", [
    ("{ this is not json", "is not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "is not valid JSON"),  # nested deeper than the parser goes
    ('{"cells": "none"}', "is not a notebook"),
    ("", "is not valid JSON"),
])
def test_broken_notebook_is_a_status_not_a_crash(tmp_path, content, status):
    (tmp_path / "lab.ipynb").write_text(content)
    report = read_notebook(tmp_path / "lab.ipynb")
    assert status in report.status and report.points == 0
    assert {a.state for a in report.answers.values()} == {NOT_FOUND}
    assert report.summary == report.status


def test_missing_or_linked_notebook_and_single_file_submission(tmp_path):
    assert "no lab.ipynb" in read_notebook(tmp_path / "lab.ipynb").status
    assert "single-file submission" in read_notebook(None).status
    real = notebook_at(tmp_path, sn.run(sn.template()), "victim")
    (tmp_path / "thief").mkdir()
    (tmp_path / "thief" / "lab.ipynb").symlink_to(real)
    report = read_notebook(tmp_path / "thief" / "lab.ipynb")
    assert "symbolic link" in report.status and report.points == 0


def test_hand_written_notebook_json_with_strings_not_lists(tmp_path):
    """Fields as strings (nbformat allows a string or a list of strings), odd cells ignored."""
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        "not a cell",
        {"cell_type": "code", "execution_count": 1, "source": "print(1)", "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "HOLDS  a claim\n       wrapped\nFAILS  another\n"}]},
        {"cell_type": "markdown", "source": "**Q1.** Why?\n\nBecause."},
        {"cell_type": "code", "execution_count": None, "source": "", "outputs": []},
    ]}
    (tmp_path / "lab.ipynb").write_text(json.dumps(nb))
    report = read_notebook(tmp_path / "lab.ipynb")
    assert report.ran_in_order and report.claims == [(True, "a claim wrapped"), (False, "another")]
    assert report.answers["q1"].text == "Because." and report.answers["q2"].state == NOT_FOUND


# ----------------------------------------------------------------------------
# A class of graded folders: the grades, the answers sheet, the manual scores
# ----------------------------------------------------------------------------

def make_class(tmp_path) -> list[Grade]:
    """Four teams as the grader finds them, their code graded (full marks but for bob)."""
    notebooks = {
        "alice": sn.answered(sn.run(sn.template())),
        "bob": sn.answered(sn.run(sn.template(), error_in=3), {1: "Half done.", 3: sn.ANSWERS[3]}),
        "carol": sn.template(),  # never run, never answered
    }
    for team, nb in notebooks.items():
        sn.write(nb, tmp_path / "class" / team)
    (tmp_path / "class" / "dave").mkdir(parents=True)
    (tmp_path / "class" / "dave" / "lab.ipynb").write_text('{"cells": [')  # a merge conflict, say
    authors = {"alice": ["Ada Lovelace (1234567, @ada)", "Alan Turing (7654321, @alan)"], "bob": ["Grace Hopper"],
               "carol": ["=HYPERLINK(\"x\") (99)"], "dave": []}
    grades = []
    for team in ("alice", "bob", "carol", "dave"):
        g = Grade(file=f"{team}/rnn_lm.py", authors=authors[team])
        g.task_points = {t.key: float(t.points) for t in TASKS}
        if team == "bob":
            g.task_points["task3"] = 5.0
        g.notebook = read_notebook(tmp_path / "class" / team / "lab.ipynb")
        grades.append(g)
    return grades


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def fill_sheet(path: Path, points: dict[str, dict[str, str]]) -> None:
    """What a TA does in a spreadsheet: type points into the blank cells."""
    rows = read_csv(path)
    for row in rows:
        for column, value in points.get(row["submission"], {}).items():
            row[column] = value
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=SHEET_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def column(q_number: int) -> str:
    q = QUESTIONS[q_number - 1]
    return f"{q.key} (max {q.points})"


def test_final_grades_show_the_notebook_and_leave_unscored_answers_blank(tmp_path):
    grades = make_class(tmp_path)
    write_outputs(grades, tmp_path / "out")
    rows = {r["file"]: r for r in read_csv(tmp_path / "out" / "final_grades.csv")}
    assert list(rows["alice/rnn_lm.py"]) == FINAL_GRADES_COLUMNS
    assert rows["alice/rnn_lm.py"]["notebook"] == f"{NOTEBOOK_POINTS}" and rows["alice/rnn_lm.py"]["q1"] == ""
    assert float(rows["alice/rnn_lm.py"]["total_points_earned"]) == TOTAL_POINTS + NOTEBOOK_POINTS
    assert float(rows["alice/rnn_lm.py"]["percent_correct"]) == pytest.approx(100 * 105 / GRADE_POINTS, abs=0.01)
    assert rows["bob/rnn_lm.py"]["notebook"] == "2" and "1 error cell" in rows["bob/rnn_lm.py"]["notebook_status"]
    assert rows["carol/rnn_lm.py"]["notebook_status"].startswith("never run")
    assert rows["alice/rnn_lm.py"]["notebook_numbers"].startswith(
        "RNN: recall 0.125, best val ppl 23.84 @1100, vs floor +8.1%, grad@21 init 3.10e-07, grad@21 trained 2.00e-05; LSTM:")
    assert rows["alice/rnn_lm.py"]["notebook_numbers"].endswith("; floor 22.06")
    assert rows["carol/rnn_lm.py"]["authors"].startswith("'=HYPERLINK")  # spreadsheet-safe
    assert "not valid JSON" in rows["dave/rnn_lm.py"]["notebook_status"] and rows["dave/rnn_lm.py"]["notebook"] == "0"
    feedback = (tmp_path / "out" / "teams" / "bob" / "feedback.txt").read_text()
    assert "[FAIL] 1 point if it was run and no cell stored an error: code cell 3: NotImplementedError" in feedback
    assert "Q2: not scored yet (placeholder left unchanged)" in feedback
    assert f"Total: {90 + 2} / {GRADE_POINTS} (not scored yet: Q1, Q2, Q3, Q4, Q5, Q6)" in feedback
    results = json.loads((tmp_path / "out" / "teams" / "bob" / "results.json").read_text())
    assert results["score"] == 92 and [t["max_score"] for t in results["tests"]] == [2, 1, 2]  # (no judge: no check)


def test_manual_scores_sheet_is_prefilled_with_zero_where_there_is_nothing_to_score(tmp_path):
    grades = make_class(tmp_path)
    write_sheet(grades, tmp_path / "manual_scores.csv")
    rows = {r["submission"]: r for r in read_csv(tmp_path / "manual_scores.csv")}
    assert list(rows["alice/rnn_lm.py"]) == ["submission", "authors", *(column(n) for n in range(1, 7))]
    assert [rows["alice/rnn_lm.py"][column(n)] for n in range(1, 7)] == [""] * 6
    assert [rows["bob/rnn_lm.py"][column(n)] for n in range(1, 7)] == ["", "0", "", "0", "0", "0"]
    assert [rows["carol/rnn_lm.py"][column(n)] for n in range(1, 7)] == ["0"] * 6  # placeholders
    assert [rows["dave/rnn_lm.py"][column(n)] for n in range(1, 7)] == ["0"] * 6  # no readable notebook


def test_merged_manual_scores_reach_final_grades_results_and_feedback(tmp_path):
    grades = make_class(tmp_path)
    sheet = tmp_path / "manual_scores.csv"
    write_sheet(grades, sheet)
    fill_sheet(sheet, {"alice/rnn_lm.py": {column(n): "5" for n in range(1, 6)} | {column(6): "3.5"},
                       "bob/rnn_lm.py": {column(1): "1", column(3): "4"}})
    merge(grades, read_sheet(sheet, [g.file for g in grades]))
    write_outputs(grades, tmp_path / "out")
    rows = {r["file"]: r for r in read_csv(tmp_path / "out" / "final_grades.csv")}
    assert [rows["alice/rnn_lm.py"][q.key] for q in QUESTIONS] == ["5", "5", "5", "5", "5", "3.5"]
    assert float(rows["alice/rnn_lm.py"]["total_points_earned"]) == 100 + 5 + 28.5
    assert float(rows["bob/rnn_lm.py"]["total_points_earned"]) == 90 + 2 + 1 + 4
    results = json.loads((tmp_path / "out" / "teams" / "alice" / "results.json").read_text())
    assert results["score"] == 133.5 and sum(t["max_score"] for t in results["tests"]) == GRADE_POINTS - TOTAL_POINTS
    assert {"name": "Q6 (discussion answer, scored by your TA)", "score": 3.5, "max_score": 5,
            "output": "Q6: 3.5 / 5", "visibility": "visible"} in results["tests"]
    feedback = feedback_text(grades[0])
    assert "Q6: 3.5 / 5" in feedback and f"Total: 133.5 / {GRADE_POINTS}\n" in feedback
    assert "  FAILS on your run: The corpus's floor is perplexity 22.06." in feedback
    assert "  Your numbers (the results table your notebook printed): RNN: recall 0.125," in feedback


@pytest.mark.parametrize("edit, problem", [
    (lambda rows: rows[1].__setitem__(0, "alcie/rnn_lm.py"),
     "no submission 'alcie/rnn_lm.py' in this class; did you mean 'alice/rnn_lm.py'?"),
    (lambda rows: rows.pop(2), "no row for 'bob/rnn_lm.py'"),
    (lambda rows: rows.append(list(rows[1])), "'alice/rnn_lm.py' has a second row"),
    (lambda rows: rows[1].__setitem__(2, "four"), "Q1: 'four' is not a number"),
    (lambda rows: rows[1].__setitem__(2, "2,5"), "Q1: '2,5' is not a number (write 2.5)"),
    (lambda rows: rows[1].__setitem__(3, "7"), "Q2: 7 is outside 0..5"),
    (lambda rows: rows[1].__setitem__(3, "-1"), "Q2: -1 is outside 0..5"),
    (lambda rows: rows[0].__setitem__(2, "q1 (max 4)"), "column 'q1 (max 4)' does not match Q1's 5 points"),
    (lambda rows: [r.pop(7) for r in rows], "no column for Q6 ('q6 (max 5)')"),
    (lambda rows: [r.append("1") for r in rows] and rows[0].__setitem__(-1, "q7 (max 5)"), "unknown column 'q7 (max 5)'"),
])
def test_a_sheet_that_does_not_fit_the_class_is_refused_and_merges_nothing(tmp_path, edit, problem):
    grades = make_class(tmp_path)
    sheet = tmp_path / "manual_scores.csv"
    write_sheet(grades, sheet)
    with open(sheet, newline="") as f:
        rows = list(csv.reader(f))
    edit(rows)
    with open(sheet, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(ManualScoresError, match="does not fit") as err:
        read_sheet(sheet, [g.file for g in grades])
    assert problem in str(err.value)


def test_sheet_saved_by_excel_with_a_byte_order_mark_and_blank_lines_is_read(tmp_path):
    grades = make_class(tmp_path)
    sheet = tmp_path / "manual_scores.csv"
    write_sheet(grades, sheet)
    sheet.write_bytes(b"\xef\xbb\xbf" + sheet.read_bytes().replace(b"\r\n", b"\r\n,,,\r\n", 1))
    scores = read_sheet(sheet, [g.file for g in grades])
    assert scores["carol/rnn_lm.py"] == {q.key: 0.0 for q in QUESTIONS} and scores["alice/rnn_lm.py"]["q1"] is None


class TagCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.sources = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.sources += [value for name, value in attrs if name in ("src", "href") and value]


def test_answers_sheet_shows_questions_rubric_and_every_teams_answer_escaped(tmp_path):
    grades = make_class(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    assert write_answers_sheet(grades, out, output_folders(grades)) is True
    html = (out / "answers.html").read_text()
    parser = TagCollector()
    parser.feed(html)
    assert "script" not in parser.tags
    assert all(s.startswith("#") for s in parser.sources), "self-contained: only links within the page"
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "**dominated**" in html  # markdown shown as written
    for dq in discussion_questions():
        assert f'id="{dq.question.key}"' in html
        assert dq.rubric[0][1][:40].replace("'", "&#x27;") in html
    assert "factor two per step" in html  # the reference answer of Q1
    assert html.count("placeholder left unchanged") == 6 + 4  # carol's six, bob's four
    assert html.count("is not valid JSON") == 6  # dave's notebook, once a question
    assert html.count("3.10e-07") == 6  # alice's gradient at the name, next to each of her answers
    assert "FAILS: The corpus&#x27;s floor" in html
    team_page = (out / "teams" / "alice" / "answers.html").read_text()
    assert "Ada Lovelace (1234567, @ada)" in team_page and sn.ANSWERS[4] in team_page
    assert (out / "manual_scores.csv").is_file()


def test_answers_sheet_never_overwrites_a_sheet_a_ta_is_filling_in(tmp_path):
    grades = make_class(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "manual_scores.csv").write_text("a TA's work\n")
    assert write_answers_sheet(grades, out, output_folders(grades)) is False
    assert (out / "manual_scores.csv").read_text() == "a TA's work\n"


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(chromium() is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_team_answers_print_to_pdf_and_the_sheet_renders_in_headless_chromium(tmp_path):
    """The path to Gradescope's manual grading: each team's answers.html printed to a PDF."""
    grades = make_class(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    write_answers_sheet(grades, out, output_folders(grades))
    flags = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    pdf = out / "teams" / "alice" / "answers.pdf"
    subprocess.run([*flags, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", (out / "teams" / "alice" / "answers.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
    shot = tmp_path / "sheet.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1280,900", (out / "answers.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000


# ----------------------------------------------------------------------------
# Gradebook
# ----------------------------------------------------------------------------

ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section
    Points Possible,,,,
"Lovelace, Ada",101,1234567,ada,Lab A
"Turing, Alan",102,7654321,alan,Lab A
"Hopper, Grace",103,5550001,grace,Lab B
"Noether, Emmy",104,5550002,emmy,Lab B
"""


def test_canvas_gradebook_gives_each_member_the_teams_grade(tmp_path):
    grades = make_class(tmp_path)
    told = write_gradebook("canvas", grades, tmp_path, None, "Lab 3 (1234)")
    with open(tmp_path / "gradebook_canvas.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab 3 (1234)"]
    assert rows[1] == ["Points Possible", "", "", "", "", f"{GRADE_POINTS}"]
    assert rows[2:] == [["Lovelace, Ada", "", "1234567", "", "", "105"], ["Turing, Alan", "", "7654321", "", "", "105"],
                        ["Hopper, Grace", "", "", "", "", "92"], ["'=HYPERLINK(\"x\")", "", "99", "", "", "100"]]
    assert any("name nobody" in line and "dave/rnn_lm.py" in line for line in told)


def test_moodle_and_plain_gradebooks_with_a_roster_list_unmatched_students_apart(tmp_path):
    grades = make_class(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    grades[1].authors = ["grace hopper"]  # matched by name
    told = write_gradebook("moodle", grades, tmp_path, roster, "RNN lab")
    rows = read_csv(tmp_path / "gradebook_moodle.csv")
    assert list(rows[0]) == ["First name", "Last name", "ID number", "Email address", "RNN lab"]
    assert [(r["First name"], r["Last name"], r["RNN lab"]) for r in rows] == [
        ("Ada", "Lovelace", "105"), ("Alan", "Turing", "105"), ("Grace", "Hopper", "92")]
    unmatched = read_csv(tmp_path / "gradebook_unmatched.csv")
    assert unmatched == [{"as written in AUTHORS": "'=HYPERLINK(\"x\") (99)", "submission": "carol/rnn_lm.py",
                          "points": "100"}]
    assert any("match no roster row" in line for line in told)
    assert any("Emmy Noether" in line and "in no team" in line for line in told)
    write_gradebook("csv", grades, tmp_path, roster, "RNN lab")
    plain = read_csv(tmp_path / "gradebook_csv.csv")
    assert plain[0] == {"student": "Ada Lovelace", "identifiers": "1234567; @ada", "submission": "alice/rnn_lm.py",
                        "points": "105", "max_points": f"{GRADE_POINTS}", "percent": f"{100 * 105 / GRADE_POINTS:.2f}"}


def test_canvas_gradebook_takes_the_lms_identifiers_from_the_roster(tmp_path):
    grades = make_class(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    grades[0].authors = ["Ada L. (ada)", "A. Turing (7654321)"]  # matched by login and by SIS id, not by name
    write_gradebook("canvas", grades, tmp_path, roster, "Lab")
    with open(tmp_path / "gradebook_canvas.csv", newline="") as f:
        rows = list(csv.reader(f))[2:]
    assert rows[:2] == [["Lovelace, Ada", "101", "1234567", "ada", "Lab A", "105"],
                        ["Turing, Alan", "102", "7654321", "alan", "Lab A", "105"]]


@pytest.mark.parametrize("with_roster", [True, False], ids=["roster", "no roster"])
@pytest.mark.parametrize("bob_authors", [["ada  LOVELACE"], ["A. Lovelace (1234567)"],
                                         ["Ada Lovelace-Byron (1234567, ada@uni.edu)"]],
                         ids=["same name", "same id", "borrowed id under a changed name"])
def test_a_student_in_two_teams_is_listed_apart_and_the_class_exported(tmp_path, bob_authors, with_roster):
    """One student in two teams' AUTHORS: neither entry reaches the gradebook (no two rows for one
    ID), both are listed in gradebook_conflicts.csv, the other students are exported."""
    grades = make_class(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    grades[0].authors = ["Ada Lovelace (1234567)", "A. Turing (7654321)"]
    grades[1].authors = bob_authors
    told = write_gradebook("canvas", grades, tmp_path, roster if with_roster else None, "Lab")
    with open(tmp_path / "gradebook_canvas.csv", newline="") as f:
        rows = list(csv.reader(f))[2:]
    assert not any("1234567" in row or "Lovelace, Ada" in row for row in rows), rows
    assert any("7654321" in row or "Turing, A." in row or "Turing, Alan" in row for row in rows), rows
    conflicts = read_csv(tmp_path / "gradebook_conflicts.csv")
    assert {r["submission"] for r in conflicts} == {"alice/rnn_lm.py", "bob/rnn_lm.py"}
    assert any("more than one team" in line for line in told)
    assert any("unverified" in line for line in told) != with_roster


def test_roster_without_a_name_column_is_refused(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,email\n1,a@b\n")
    with pytest.raises(GradebookError, match="no name column"):
        write_gradebook("csv", make_class(tmp_path), tmp_path, roster, "Lab")


# ----------------------------------------------------------------------------
# The release: points and rubrics
# ----------------------------------------------------------------------------

def test_released_notebook_shows_the_points_and_never_the_rubrics():
    notebook = (REPO / "assignment" / "lab.ipynb").read_text()
    assert "RUBRIC" not in notebook and "what earns" not in notebook
    for q in QUESTIONS:
        assert f"**Q{q.number}.** *({q.points} points)*" in notebook
    assert f"**Grading** ({GRADE_POINTS} points)" in notebook
    readme = (REPO / "assignment" / "README.md").read_text()
    assert f"| | **Total** | **{GRADE_POINTS}** |" in readme
    assert all(f"| {q.label} | your answer in `lab.ipynb`, scored by your TA | {q.points} |" in readme for q in QUESTIONS)


def test_rubric_points_must_add_up_to_the_questions_points():
    source = (REPO / "solution" / "lab.py").read_text()
    assert sum(p for dq in discussion_questions(source) for p, _ in dq.rubric) == sum(q.points for q in QUESTIONS)
    broken = source.replace("# - 1: Names what shows vanishing instead", "# - 2: Names what shows vanishing instead")
    with pytest.raises(QuestionsError, match="Q3's rubric gives 6 points, rnnlab/tasks.py 5"):
        discussion_questions(broken)
    with pytest.raises(release.ReleaseError, match="Q3's rubric"):
        release.build_notebook(broken)
    with pytest.raises(QuestionsError, match="questions"):
        discussion_questions(source.replace("# **Q6.**", "# **Q7.**"))
