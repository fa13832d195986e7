"""The answers sheet: every team's discussion answers, question by question, for the TA to score.

``write_answers_sheet`` writes next to the grades:

- ``answers.html``: one self-contained page (no script, no external file; printable to PDF from a
  browser, a question a page). For each question: its text, the reference answer and the rubric
  from ``solution/lab.py`` (``rnnlab.questions``), then every team's answer side by side with the
  numbers of that team's own run (``rnnlab.notebook``). Empty answers, answers left as the
  placeholder and notebooks that could not be read are marked. Students' text is escaped, never
  rendered: markdown and HTML in an answer show as written.
- ``teams/NAME/answers.html`` for each team: its own answers and numbers, to print as the PDF a
  Gradescope manual-grading assignment takes (see the README).
- ``manual_scores.csv`` (``rnnlab.manual_scores``), unless one is there already: a TA may be
  filling it in, and a re-grade must not erase it.

Grades are read by duck typing, as ``rnnlab.grade.Grade`` has them: ``file``, ``authors``,
``notebook`` (a ``NotebookReport``) and ``manual`` (question key -> points or None).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from rnnlab.class_report import STYLE, plural
from rnnlab.manual_scores import SHEET_NAME, write_sheet
from rnnlab.notebook import ANSWERED, DIFFERS, READ, REPRODUCED, NotebookReport
from rnnlab.questions import DiscussionQuestion, discussion_questions

SHEET_STYLE = """
.question { margin-top: 28px; }
.question h2 { margin-top: 0; }
.prompt, .answer, .reference { white-space: pre-wrap; }
.reference { background: #eef6ee; border-left: 4px solid #2e8b57; padding: 8px 12px; border-radius: 4px; }
.rubric { background: #f2f5f8; padding: 8px 12px 8px 28px; border-radius: 4px; margin: 8px 0 14px; }
.answer { background: #fbfbfd; border: 1px solid #e4e8ed; padding: 8px 10px; border-radius: 4px; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 10px; }
.badge.missing { background: #fde2df; color: #9b2a1e; }
.badge.ok { background: #e1f2e6; color: #1f6b3d; }
.badge.warn { background: #fbecc9; color: #7a5410; }
table.numbers { width: auto; font-size: 12px; margin-top: 4px; }
table.numbers td, table.numbers th { padding: 2px 6px; }
td.team { width: 18%; } td.their-numbers { width: 32%; } td.points { width: 8%; white-space: nowrap; }
.box { display: inline-block; width: 34px; border-bottom: 1px solid #1d2733; }
.claims { font-size: 12px; margin: 4px 0 0; padding-left: 18px; }
@media print {
  body { max-width: none; margin: 0; font-size: 11px; }
  nav { display: none; }
  .question { break-before: page; }
  tr { break-inside: avoid; }
}
"""
NUMBER_COLUMNS = ("recall", "best val ppl", "vs floor")  # then the gradient columns, as printed ("grad@21 init")


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
            f"<style>{STYLE}{SHEET_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def team_name(grade) -> str:
    """The team's folder (``alice``), or the file of a single-file submission."""
    return grade.file.split("/")[0]


def numbers_view(report: NotebookReport) -> str:
    """The team's numbers (a small table, a row a model) and the claims their run printed."""
    if report.status != READ:
        return f'<span class="badge missing">{escape(report.status)}</span>'
    parts = []
    if report.numbers:
        gradient_columns = sorted({c for cols in report.numbers.values() for c in cols if c.startswith("grad@")},
                                  key=lambda c: ("trained" in c, c))
        columns = [c for c in NUMBER_COLUMNS if any(c in cols for cols in report.numbers.values())] + gradient_columns
        head = "".join(f"<th>{escape(c)}</th>" for c in ["model", *columns])
        rows = "".join("<tr><td>" + escape(model) + "</td>"
                       + "".join(f'<td class="num">{escape(cols.get(c, "-"))}</td>' for c in columns) + "</tr>"
                       for model, cols in report.numbers.items())
        parts.append(f'<table class="numbers"><tr>{head}</tr>{rows}</table>')
    else:
        parts.append('<span class="badge warn">no results table printed</span>')
    if report.floor:
        parts.append(f'<div class="muted">perplexity floor {escape(report.floor)}</div>')
    if report.claims:
        failing = [text for holds, text in report.claims if not holds]
        held = len(report.claims) - len(failing)
        parts.append(f"<div>claims on their run: {held} of {len(report.claims)} hold</div>")
        if failing:
            parts.append('<ul class="claims">' + "".join(f"<li>FAILS: {escape(t)}</li>" for t in failing) + "</ul>")
    else:
        parts.append('<span class="badge warn">no claims printed</span>')
    if report.rerun is not None:
        badge = {REPRODUCED: "ok", DIFFERS: "missing"}.get(report.rerun.state, "warn")
        parts.append(f'<div><span class="badge {badge}">{escape(report.rerun.line)}</span></div>')
    if not report.ran_in_order:
        parts.append(f'<div class="muted">{escape(report.summary)}</div>')
    return "".join(parts)


def answer_view(answer) -> str:
    if answer.state == ANSWERED:
        return f'<div class="answer">{escape(answer.text)}</div>'
    return f'<span class="badge missing">{escape(answer.state)}</span>'


def points_view(grade, q) -> str:
    points = grade.manual[q.key]
    return f"{points:g} / {q.points:g}" if points is not None else f'<span class="box"></span> / {q.points:g}'


def question_header(dq: DiscussionQuestion) -> str:
    q = dq.question
    rubric = "".join(f"<li><b>{p}</b>: {escape(text)}</li>" for p, text in dq.rubric)
    return (f'<h2 id="{q.key}">{q.label} ({plural(q.points, "point")})</h2>\n'
            f'<div class="prompt">{escape(dq.text)}</div>\n<h3>Reference answer</h3>\n'
            f'<div class="reference">{escape(dq.reference)}</div>\n<h3>Rubric</h3>\n<ul class="rubric">{rubric}</ul>')


def question_section(dq: DiscussionQuestion, grades: list) -> str:
    q = dq.question
    answers = [g.notebook.answers[q.key] for g in grades]
    missing = sum(a.state != ANSWERED for a in answers)
    rows = "\n".join(
        f'<tr><td class="team"><b>{escape(team_name(g))}</b><div class="muted">{escape("; ".join(g.authors))}</div>'
        f'</td><td class="their-numbers">{numbers_view(g.notebook)}</td><td>{answer_view(a)}</td>'
        f'<td class="points">{points_view(g, q)}</td></tr>' for g, a in zip(grades, answers))
    return (f'<section class="question">{question_header(dq)}\n<h3>Answers ({len(grades) - missing} of '
            f'{len(grades)}; {missing} without an answer, pre-filled with 0 in {SHEET_NAME})</h3>\n'
            f"<table><tr><th>Team</th><th>Their numbers</th><th>Answer</th><th>Points</th></tr>\n{rows}\n</table>"
            "</section>")


def answers_html(grades: list, questions: list[DiscussionQuestion]) -> str:
    links = "".join(f'<a href="#{dq.question.key}">{dq.question.label}</a>' for dq in questions)
    answered = sum(g.notebook.answers[dq.question.key].state == ANSWERED for g in grades for dq in questions)
    lead = (f'<p class="lead">{plural(len(grades), "team")}, {len(questions)} questions: {answered} answers to '
            f"score of {len(grades) * len(questions)}. Enter the points in {SHEET_NAME}, then merge them with "
            f"<code>rnnlab grade ... --manual {SHEET_NAME}</code>. Students' text is shown as written (markdown and "
            "HTML are not rendered). The numbers and the notebook's points are read from the saved notebook, "
            "not from a run of the team's code: they are what the team's file says (self-reported).</p>\n")
    sections = "\n".join(question_section(dq, grades) for dq in questions)
    return page("Answers sheet", f"<h1>Answers sheet</h1>\n{lead}<nav>{links}</nav>\n{sections}")


def team_answers_html(grade, questions: list[DiscussionQuestion]) -> str:
    """One team's answers, with the numbers of its run once at the top: a page to print as a PDF."""
    sections = "\n".join(
        f'<section><h2>{dq.question.label} ({plural(dq.question.points, "point")})</h2>'
        f'<div class="prompt">{escape(dq.text)}</div><h3>Answer</h3>{answer_view(grade.notebook.answers[dq.question.key])}'
        "</section>" for dq in questions)
    authors = escape("; ".join(grade.authors)) or "no authors named"
    return page(f"Answers: {team_name(grade)}",
                f"<h1>Answers: {escape(team_name(grade))}</h1>\n<p class=\"lead\">{authors}</p>\n"
                f"<h2>Their numbers</h2>{numbers_view(grade.notebook)}\n{sections}")


def write_answers_sheet(grades: list, out: Path, folders: list[str]) -> bool:
    """answers.html, each team's ``FOLDER/answers.html`` and manual_scores.csv (when not there already).
    Returns whether manual_scores.csv was written (False: an existing one was kept)."""
    questions = discussion_questions()
    (out / "answers.html").write_text(answers_html(grades, questions), encoding="utf-8")
    for g, folder in zip(grades, folders):
        (out / folder).mkdir(parents=True, exist_ok=True)
        (out / folder / "answers.html").write_text(team_answers_html(g, questions), encoding="utf-8")
    sheet = out / SHEET_NAME
    if sheet.exists():
        return False
    write_sheet(grades, sheet)
    return True
