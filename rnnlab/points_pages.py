"""The points that the user pages state, generated from ``rnnlab.tasks`` by ``rnnlab release``.

A page marks each stated point value as a span, ``<!-- points: NAME -->135<!-- /points -->`` (inline,
or around a whole table): the markers do not show on a rendered page, and ``rnnlab release``
rewrites the text between them from ``TASKS``, ``NOTEBOOK_CHECKS`` and ``QUESTIONS``, so a change of
points reaches every page. ``rnnlab release --check`` fails while a page differs from what the
release would write.
"""

from __future__ import annotations

import re
from pathlib import Path

from rnnlab import tasks

PAGES = ("README.md", "autograder/GRADING.md", "solution/INSTRUCTORS.md")
SPAN = re.compile(r"(?P<open><!-- points: (?P<name>[a-z_]+) -->)(?P<text>.*?)(?P<close><!-- /points -->)", re.DOTALL)


class PointsPageError(ValueError):
    """A page names a span this module does not generate."""


def question_points(questions) -> str:
    """``5 each``, or each question's when they differ."""
    each = {q.points for q in questions}
    return f"{next(iter(each))} each" if len(each) == 1 else ", ".join(f"{q.label}: {q.points}" for q in questions)


def parts_table(task_list, checks, questions) -> str:
    code, notebook, answers = (sum(x.points for x in part) for part in (task_list, checks, questions))
    found = "; ".join(f"{c.points} if {c.title}" for c in checks)
    return "\n".join([
        "| Part | Points | Decided by |",
        "| --- | --- | --- |",
        f"| the code, `rnn_lm.py` (Tasks {task_list[0].number}-{task_list[-1].number}) | {code} | the hidden checks, "
        "run by a judge against the submission in a sandbox |",
        f"| the notebook, `lab.ipynb` | {notebook} | read from the saved notebook, never run: {found} |",
        f"| the discussion answers {questions[0].label}-{questions[-1].label} | {answers} | you, "
        f"{question_points(questions)}, with the rubric on the answers sheet |"])


def texts(task_list=tasks.TASKS, checks=tasks.NOTEBOOK_CHECKS, questions=tasks.QUESTIONS) -> dict[str, str]:
    """Each span's text, from the course's points (``rnnlab.tasks`` unless others are given)."""
    code, notebook, answers = (sum(x.points for x in part) for part in (task_list, checks, questions))
    return {
        "grade": f"{code + notebook + answers}",
        "code": f"{code}",
        "notebook": f"{notebook}",
        "answers": f"{answers}",
        "per_question": question_points(questions),
        "tasks": ", ".join(f"Task {t.number}: {t.points}" for t in task_list),
        "sheet_header": f"`{questions[0].key} (max {questions[0].points})`",
        "parts": "\n" + parts_table(task_list, checks, questions) + "\n",  # markers on lines of their own: a table
    }


def rewritten(page: str, text: str, generated: dict[str, str]) -> str:
    def fill(span: re.Match) -> str:
        if span["name"] not in generated:
            raise PointsPageError(f"{page}: no points named {span['name']!r} (known: {', '.join(generated)})")
        return span["open"] + generated[span["name"]] + span["close"]

    return SPAN.sub(fill, text)


def stale_pages(root: Path, generated: dict[str, str] | None = None) -> list[str]:
    """The pages whose points differ from what the release writes."""
    generated = generated or texts()
    return [page for page in PAGES
            if rewritten(page, (root / page).read_text(encoding="utf-8"), generated)
            != (root / page).read_text(encoding="utf-8")]


def write_pages(root: Path, generated: dict[str, str] | None = None) -> list[str]:
    """Rewrites the points of every page that differs; returns those pages."""
    generated = generated or texts()
    stale = stale_pages(root, generated)
    for page in stale:
        path = root / page
        path.write_text(rewritten(page, path.read_text(encoding="utf-8"), generated), encoding="utf-8")
    return stale
