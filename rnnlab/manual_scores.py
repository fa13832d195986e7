"""``manual_scores.csv``: the TA's points for the discussion answers, one row a team, one column a question.

``rnnlab grade`` writes the sheet (``write_sheet``) with an answer left empty, as the placeholder or
not found pre-filled with 0 and every other cell blank, for the TA to fill in next to
``answers.html``. ``rnnlab grade --manual SHEET`` reads it back (``read_sheet``) and refuses, naming
every problem at once, a sheet that does not fit the class being graded: a team missing, unknown
(a typo) or listed twice, a question column missing or extra, a column made for other points than
``rnnlab.tasks.QUESTIONS`` gives, a cell that is not a number or lies outside 0..the question's
points. A refused sheet changes no grade, so a typo never gives a team 0. A blank cell is a
question not scored yet: the grade then says so, and counts it as 0 until it is scored.
"""

from __future__ import annotations

import csv
import difflib
from pathlib import Path

from rnnlab.class_report import spreadsheet_safe
from rnnlab.tasks import QUESTIONS

SHEET_NAME = "manual_scores.csv"
TEAM_COLUMN, AUTHORS_COLUMN = "submission", "authors"
PROBLEMS_SHOWN = 20


class ManualScoresError(ValueError):
    """The sheet does not fit the class; the message lists what to fix."""


def question_column(q) -> str:
    """A question's header: its key and its points, so a sheet made for other points is refused."""
    return f"{q.key} (max {q.points:g})"


SHEET_COLUMNS = [TEAM_COLUMN, AUTHORS_COLUMN, *(question_column(q) for q in QUESTIONS)]


def write_sheet(grades: list, path: Path) -> None:
    """One row a team (``file`` as in final_grades.csv): 0 where there is no answer to score, else blank.
    ``grades`` need ``file``, ``authors_line`` and ``notebook.answers`` (question key -> Answer)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(SHEET_COLUMNS)
        for g in grades:
            writer.writerow([spreadsheet_safe(g.file), spreadsheet_safe(g.authors_line),
                             *("0" if g.notebook.answers[q.key].is_blank else "" for q in QUESTIONS)])


def header_problems(header: list[str]) -> list[str]:
    problems = []
    if header[:1] != [TEAM_COLUMN]:
        problems.append(f"the first column must be {TEAM_COLUMN!r} (found {header[0] if header else 'nothing'!r})")
    for q in QUESTIONS:
        mine = [h for h in header if h.split(" ")[0] == q.key]
        if not mine:
            problems.append(f"no column for {q.label} ({question_column(q)!r})")
        elif len(mine) > 1:
            problems.append(f"{len(mine)} columns for {q.label}: keep one")
        elif mine != [question_column(q)]:
            problems.append(f"column {mine[0]!r} does not match {q.label}'s {q.points:g} points in this course "
                            f"(expected {question_column(q)!r}): the sheet was made for other points; "
                            "make a new one with `rnnlab grade` or fix the header")
    known = set(SHEET_COLUMNS)
    problems += [f"unknown column {h!r} (the sheet's columns are {', '.join(SHEET_COLUMNS)})"
                 for h in header if h not in known and h.split(" ")[0] not in {q.key for q in QUESTIONS}]
    return problems


def cell_value(text: str, q, where: str) -> tuple[float | None, str | None]:
    """(points, None), (None, None) for a blank cell, or (None, problem)."""
    text = text.strip()
    if not text:
        return None, None
    try:
        value = float(text)
    except ValueError:
        hint = f" (write {text.replace(',', '.')})" if "," in text else ""
        return None, f"{where}, {q.label}: {text!r} is not a number{hint}"
    if not 0 <= value <= q.points:
        return None, f"{where}, {q.label}: {value:g} is outside 0..{q.points:g}"
    return value, None


def read_sheet(path: Path, teams: list[str]) -> dict[str, dict[str, float | None]]:
    """The TA's points, team (``file``) -> question key -> points (None: not scored yet), for exactly the
    ``teams`` given; raises ``ManualScoresError`` listing every problem."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # utf-8-sig: Excel's byte-order mark
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ManualScoresError(f"cannot read {path}: {err}") from None
    if not rows:
        raise ManualScoresError(f"{path} is empty: fill in the {SHEET_NAME} that `rnnlab grade` wrote")
    header = [h.strip() for h in rows[0]]
    problems = header_problems(header)
    if problems:
        raise ManualScoresError(f"{path} does not fit this course's questions:\n  " + "\n  ".join(problems))
    safe = {spreadsheet_safe(t): t for t in teams}  # the sheet shows names as final_grades.csv does
    scores: dict[str, dict[str, float | None]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, row))
        name = cells.get(TEAM_COLUMN, "").strip()
        where = f"line {line} ({name})"
        if name not in safe:
            close = difflib.get_close_matches(name, list(safe), n=1)
            problems.append(f"line {line}: no submission {name!r} in this class"
                            + (f"; did you mean {close[0]!r}?" if close else ""))
            continue
        team = safe[name]
        if team in scores:
            problems.append(f"{where}: {name!r} has a second row; keep one")
            continue
        scores[team] = {}
        for q in QUESTIONS:
            value, problem = cell_value(cells.get(question_column(q), ""), q, where)
            scores[team][q.key] = value
            if problem:
                problems.append(problem)
    problems += [f"no row for {spreadsheet_safe(t)!r}" for t in teams if t not in scores]
    if problems:
        shown = problems[:PROBLEMS_SHOWN]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise ManualScoresError(f"{path} does not fit the class being graded; no score was merged. Fix:\n  "
                                + "\n  ".join(shown) + more)
    return scores


def merge(grades: list, scores: dict[str, dict[str, float | None]]) -> None:
    """Each grade's ``manual`` points from the sheet (``read_sheet`` checked that every team is there)."""
    for g in grades:
        g.manual = dict(scores[g.file])
