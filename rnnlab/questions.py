"""The discussion questions of ``solution/lab.py``: each question's text, its reference answer and the
rubric written next to it, which the answers sheet shows the TA.

In the notebook's source a question reads::

    **Q1.** Look at the gradient-through-time curves ...

    <!-- BEGIN ANSWER -->
    the reference answer (the release replaces it with the placeholder)
    <!-- END ANSWER -->

    <!-- BEGIN RUBRIC -->
    - 2: what earns two points
    - 2: ...
    - 1: ...
    <!-- END RUBRIC -->

The rubric's points must add up to the question's points in ``rnnlab.tasks.QUESTIONS``, and every
question there must have its ``**Qn.**`` paragraph, answer and rubric here: ``rnnlab release``
refuses a source that does not (``QuestionsError``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rnnlab import SOLUTION_DIR
from rnnlab.tasks import QUESTIONS, Question

QUESTION = re.compile(r"^\*\*Q(\d+)\.\*\*[ \t]*", re.MULTILINE)
ANSWER_REGION = re.compile(r"<!-- BEGIN ANSWER -->\n?(.*?)<!-- END ANSWER -->", re.DOTALL)
RUBRIC_REGION = re.compile(r"<!-- BEGIN RUBRIC -->\n?(.*?)<!-- END RUBRIC -->", re.DOTALL)
RUBRIC_ITEM = re.compile(r"^- (\d+): ", re.MULTILINE)


class QuestionsError(ValueError):
    """The notebook source's questions do not match ``QUESTIONS``; the message says which and how."""


@dataclass(frozen=True)
class DiscussionQuestion:
    question: Question
    text: str  # the question, markdown
    reference: str  # the reference answer, markdown
    rubric: tuple[tuple[int, str], ...]  # (points, what earns them)


def markdown_of(percent_source: str) -> str:
    """The markdown cells of a jupytext percent source, joined."""
    import jupytext

    notebook = jupytext.reads(percent_source, fmt="py:percent")
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def rubric_items(region: str, label: str) -> tuple[tuple[int, str], ...]:
    starts = list(RUBRIC_ITEM.finditer(region))
    if not starts or region[:starts[0].start()].strip():
        raise QuestionsError(f"{label}'s rubric must be a list of '- POINTS: what earns them' lines")
    ends = [m.start() for m in starts[1:]] + [len(region)]
    return tuple((int(m[1]), " ".join(region[m.end():end].split())) for m, end in zip(starts, ends))


def discussion_questions(percent_source: str | None = None) -> list[DiscussionQuestion]:
    """Every question of ``QUESTIONS`` with its text, reference answer and rubric, from the notebook
    source (default: ``solution/lab.py``)."""
    if percent_source is None:
        percent_source = (SOLUTION_DIR / "lab.py").read_text()
    markdown = markdown_of(percent_source)
    marks = list(QUESTION.finditer(markdown))
    numbers = [int(m[1]) for m in marks]
    expected = [q.number for q in QUESTIONS]
    if numbers != expected:
        raise QuestionsError(f"the notebook's discussion has questions {numbers or 'none'} (**Qn.** paragraphs), "
                             f"rnnlab/tasks.py's QUESTIONS {expected}: make them the same")
    found = []
    for q, m, end in zip(QUESTIONS, marks, [m.start() for m in marks[1:]] + [len(markdown)]):
        segment = markdown[m.end():end]
        answer, rubric = ANSWER_REGION.search(segment), RUBRIC_REGION.search(segment)
        if not answer or not rubric:
            raise QuestionsError(f"{q.label} needs a reference answer (<!-- BEGIN ANSWER --> ... <!-- END ANSWER -->) "
                                 "and a rubric (<!-- BEGIN RUBRIC --> ... <!-- END RUBRIC -->)")
        items = rubric_items(rubric[1].strip(), q.label)
        if sum(p for p, _ in items) != q.points:
            raise QuestionsError(f"{q.label}'s rubric gives {sum(p for p, _ in items)} points, rnnlab/tasks.py "
                                 f"{q.points}: make them the same")
        found.append(DiscussionQuestion(q, segment[:answer.start()].strip(), answer[1].strip(), items))
    return found
