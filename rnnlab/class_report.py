"""The class report for instructors: what the class got wrong, and who may have copied whom.

``write_class_report`` writes three files next to the grades:

- ``report.html``: one self-contained page (figures embedded as PNG, no script, no external file)
  with the distributions of the whole grade (the code's points, the notebook's, the answers' once
  a TA has scored them, and the total), each part's points distribution (every task, the notebook,
  every question), every check ranked by how many submissions failed it (with its most frequent
  failure messages, grouped), the notebook checks ranked alike (with the findings), the questions
  worst answered first, the submissions that could not be graded normally, who each team's students
  are (from GitHub Classroom with ``--classroom``, where ``AUTHORS`` disagreeing is listed; else
  self-declared in ``AUTHORS``), and the pairs of
  submissions that share unusually much of their own code, side by side with the shared lines
  highlighted (``rnnlab.similarity``);
- ``class_summary.csv``: one row per check of the code, per notebook check and per question
  (``part`` says which);
- ``similarity.csv``: one row per similar pair (only the header when detection is off).

Grades are read by duck typing: ``file``, ``task_points``, ``total``, ``status`` and ``checks``
(name -> ``task``, ``passed``, ``description``, ``message``), as ``rnnlab.grade.Grade`` has them,
and where a grade has them ``authors`` (a list of names), ``notebook`` (a
``rnnlab.notebook.NotebookReport``: ``status``, ``points``, ``passed``, ``answers``, ...) and
``manual`` (question key -> the TA's points, None while not scored); a check without ``message``
is grouped by its ``feedback``. A grade without ``notebook`` counts as a team whose notebook was
not read, one without ``manual`` as a team whose answers are not scored yet.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import re
import statistics
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from pathlib import Path

from rnnjudge.registry import GATE_MESSAGE
from rnnjudge.session import printable
from rnnlab import similarity
from rnnlab.notebook import ANSWERED, DIFFERS, EXPERIMENT_MODELS, MIN_CLAIMS, NOT_CONFIRMED, NOT_FOUND, READ, REPRODUCED
from rnnlab.tasks import (ANSWER_POINTS, GRADE_POINTS, NOTEBOOK_CHECKS, NOTEBOOK_POINTS, QUESTIONS, TASKS,
                          TOTAL_POINTS)

GRADED = "graded"  # the status of a submission graded normally
MESSAGE_GROUPS_SHOWN = 3
MESSAGE_LINES_SHOWN = 2  # of each example message; the rest is folded
PAIRS_SHOWN = 40  # side-by-side views on the page; similarity.csv has every pair
CONTEXT_LINES = 2  # unhighlighted lines shown around each shared region
FIGURE_COLUMNS = 4  # part charts a row (6 tasks, the notebook, 6 questions)
QUESTION_TEXT_SHOWN = 140  # characters of a question's text under its label
# The code's checks, then the notebook's checks, then the questions. A column that does not apply to
# a row's part is blank: failed/share/most_frequent_message for a question, answered... for a check.
SUMMARY_COLUMNS = ["check", "task", "description", "failed", "graded", "share", "most_frequent_message",
                   "part", "max_points", "passed", "answered", "unanswered", "scored", "not_scored",
                   "mean_points", "median_points", "mean_share_of_max", "median_share_of_max"]
CODE, NOTEBOOK, QUESTION = "code", "notebook", "question"  # the summary's parts
SIMILARITY_COLUMNS = ["file_a", "file_b", "score", "shared_fingerprints", "share_of_a", "share_of_b",
                      "shared_lines_a", "shared_lines_b"]


# ----------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------

def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """``--similarity-threshold`` and ``--no-similarity``; both set ``args.similarity_threshold``
    (None when detection is off), which is what ``write_class_report`` takes."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--similarity-threshold", type=threshold_value, default=similarity.DEFAULT_THRESHOLD, metavar="FLOAT",
        help="copy detection: flag two submissions when at least this share (0-1] of the smaller one's own code "
             "(what is neither given, nor the stubs, nor the reference solution; renamed variables, comments and "
             f"layout do not count) is also in the other (default {similarity.DEFAULT_THRESHOLD}; measured: copies "
             "with renamed variables and moved lines 0.96-1.0, a copy with a third rewritten 0.76, independently "
             "written code at most 0.56; see rnnlab/similarity.py)")
    group.add_argument("--no-similarity", dest="similarity_threshold", action="store_const", const=None,
                       help="no copy detection (report.html says so; similarity.csv has only its header)")


def threshold_value(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


# ----------------------------------------------------------------------------
# Check statistics
# ----------------------------------------------------------------------------

NUMBER = re.compile(r"0x[0-9a-fA-F]+|(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")
SEQUENCE_OF_NUMBERS = re.compile(r"[(\[]\s*#(?:\s*,\s*#)*\s*,?\s*[)\]]")


def message_key(message: str) -> str:
    """A failure message with its numbers and shapes replaced by ``#``: messages of one
    misconception differ only there."""
    key = SEQUENCE_OF_NUMBERS.sub("(#)", NUMBER.sub("#", message))
    return " ".join(key.split())


@dataclass
class MessageGroup:
    count: int
    example: str  # the first message of the group, as a student got it


@dataclass
class CheckStats:
    name: str
    task: int
    description: str
    failed: int = 0
    graded: int = 0  # submissions that have this check
    gated_out: int = 0  # failed only because their task's value checks failed (see rnnjudge.registry)
    messages: list[MessageGroup] = field(default_factory=list)  # most frequent first, the gate's last

    @property
    def share(self) -> float:
        return self.failed / self.graded if self.graded else 0.0


def check_statistics(grades: list) -> list[CheckStats]:
    """Every check, the most failed first (then the highest share failed, task, name)."""
    stats: dict[str, CheckStats] = {}
    failures: dict[str, list[str]] = {}
    for grade in grades:
        for name, check in grade.checks.items():
            entry = stats.setdefault(name, CheckStats(name, check.get("task", 0), check.get("description", "")))
            entry.graded += 1
            if not check.get("passed", False):
                entry.failed += 1
                entry.gated_out += check.get("message") == GATE_MESSAGE
                failures.setdefault(name, []).append(check.get("message") or check.get("feedback", ""))
    for name, messages in failures.items():
        stats[name].messages = group_messages(messages)
    # Ranked by failures of the check itself: a gated-out failure repeats another check's.
    return sorted(stats.values(), key=lambda s: (-(s.failed - s.gated_out), -s.failed, -s.share, s.task, s.name))


def group_messages(messages: list[str]) -> list[MessageGroup]:
    counts: Counter = Counter()
    examples: dict[str, str] = {}
    for message in messages:
        key = message_key(message)
        counts[key] += 1
        examples.setdefault(key, message)
    order = sorted(counts.items(), key=lambda kv: (examples[kv[0]] == GATE_MESSAGE, -kv[1], kv[0]))
    return [MessageGroup(count, examples[key]) for key, count in order]


def not_graded_normally(grades: list) -> list:
    return sorted((g for g in grades if g.status != GRADED), key=lambda g: g.file)


# ----------------------------------------------------------------------------
# The notebook and the answers: what each grade has of them
# ----------------------------------------------------------------------------

def notebook_report(grade):
    """The grade's NotebookReport, or None when the grade has none (its notebook was not read)."""
    return getattr(grade, "notebook", None)


def manual_points(grade, q) -> float | None:
    """The TA's points for the team's answer to ``q`` (None: not scored yet)."""
    return (getattr(grade, "manual", None) or {}).get(q.key)


def notebook_points(grade) -> float:
    nb = notebook_report(grade)
    return float(nb.points) if nb is not None else 0.0


def answer_points(grade) -> float:
    """The answers' points scored so far (an answer not scored yet counts 0, as in the grade)."""
    return sum(p for p in (manual_points(grade, q) for q in QUESTIONS) if p is not None)


def whole_points(grade) -> float:
    """The whole grade: the code's, the notebook's and the answers' scored so far (``Grade.grade_total``)."""
    return round(grade.total + notebook_points(grade) + answer_points(grade), 4)


def any_scored(grades: list) -> bool:
    """Whether a TA's points were merged (``--manual``): some answer of some team has points."""
    return any(manual_points(g, q) is not None for g in grades for q in QUESTIONS)


def unscored_teams(grades: list) -> int:
    """Teams with at least one answer not scored yet."""
    return sum(any(manual_points(g, q) is None for q in QUESTIONS) for g in grades)


def answer_state(grade, q) -> str:
    nb = notebook_report(grade)
    answer = (getattr(nb, "answers", None) or {}).get(q.key) if nb is not None else None
    return answer.state if answer is not None else NOT_FOUND


@dataclass
class NotebookCheckStats:
    key: str
    title: str
    points: int
    failed: int = 0
    teams: int = 0
    findings: list[MessageGroup] = field(default_factory=list)  # why it failed, most frequent first

    @property
    def passed(self) -> int:
        return self.teams - self.failed

    @property
    def share(self) -> float:
        return self.failed / self.teams if self.teams else 0.0


def notebook_finding(nb, key: str) -> str:
    """Why a notebook failed the check ``key``, in a few words (numbers and cells as the notebook has them)."""
    if nb is None:
        return "the notebook was not read"
    if nb.status != READ:
        return nb.status
    if not nb.executed:
        return "never run (no code cell has an execution count)"
    if key == "ran_in_order" and nb.order_problems:
        return "; ".join(nb.order_problems)
    if key == "no_errors" and nb.errors:
        return "; ".join(nb.errors)
    if key == "claims_printed":
        if not nb.claims:
            return "no claim printed: the experiment's claims cell was not run"
        if len(nb.claims) < MIN_CLAIMS:
            return f"only {plural(len(nb.claims), 'claim')} printed (the experiment prints at least {MIN_CLAIMS})"
        absent = [model for model in EXPERIMENT_MODELS if model not in nb.numbers]
        if absent:
            return ("no results table printed" if not nb.numbers else
                    f"the results table has no row for {', '.join(absent)}")
        if nb.rerun_withholds:  # ``rnnlab grade --rerun``: the numbers printed were not certified
            return nb.rerun.line
    return "not passed"


def notebook_statistics(grades: list) -> list[NotebookCheckStats]:
    """Each notebook check over every team (a team whose code could not be graded still has its
    notebook read), the most failed first (then in NOTEBOOK_CHECKS' order)."""
    stats = []
    for order, check in enumerate(NOTEBOOK_CHECKS):
        entry = NotebookCheckStats(check.key, check.title, check.points, teams=len(grades))
        findings = []
        for g in grades:
            nb = notebook_report(g)
            if nb is None or not nb.passed.get(check.key, False):
                entry.failed += 1
                findings.append(notebook_finding(nb, check.key))
        entry.findings = group_messages(findings)
        stats.append((-entry.failed, order, entry))
    return [entry for *_, entry in sorted(stats, key=lambda t: t[:2])]


@lru_cache(maxsize=1)
def question_texts() -> dict[str, str]:
    """Each question's text (its key -> one line, markdown as written), from the course's notebook
    source; {} when that cannot be read (the labels then stand alone)."""
    try:
        from rnnlab.questions import discussion_questions

        return {d.question.key: " ".join(d.text.split()) for d in discussion_questions()}
    except Exception:  # noqa: BLE001 - the text is a help to read the table, never a reason to lose it
        return {}


@dataclass
class QuestionStats:
    key: str
    label: str
    number: int
    points: int
    text: str = ""
    teams: int = 0
    answered: int = 0
    unanswered_states: Counter = field(default_factory=Counter)  # state -> teams (empty, placeholder, not found)
    scores: list[float] = field(default_factory=list)  # the TA's points of the teams scored

    @property
    def unanswered(self) -> int:
        return sum(self.unanswered_states.values())

    @property
    def scored(self) -> int:
        return len(self.scores)

    @property
    def not_scored(self) -> int:
        return self.teams - self.scored

    @property
    def mean(self) -> float | None:
        return statistics.mean(self.scores) if self.scores else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.scores) if self.scores else None

    @property
    def mean_share(self) -> float | None:
        return None if self.mean is None else self.mean / self.points

    @property
    def median_share(self) -> float | None:
        return None if self.median is None else self.median / self.points


def question_statistics(grades: list) -> list[QuestionStats]:
    """Each question, the worst answered first: the lowest mean share of its points among the teams
    scored; questions no team is scored on yet come last, the most often unanswered first."""
    texts = question_texts()
    stats = []
    for q in QUESTIONS:
        entry = QuestionStats(q.key, q.label, q.number, q.points, texts.get(q.key, ""), teams=len(grades))
        for g in grades:
            state = answer_state(g, q)
            if state == ANSWERED:
                entry.answered += 1
            else:
                entry.unanswered_states[state] += 1
            points = manual_points(g, q)
            if points is not None:
                entry.scores.append(float(points))
        stats.append(entry)

    def rank(s: QuestionStats) -> tuple:
        return (0, s.mean_share, -s.unanswered, s.number) if s.scores else (1, -s.unanswered, s.number)

    return sorted(stats, key=rank)


# ----------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------

def png_data_uri(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram(ax, percents: list[float], title: str) -> None:
    """A distribution of percents of a part's points, with its mean and median."""
    mean, median = statistics.mean(percents), statistics.median(percents)
    ax.hist(percents, bins=range(0, 105, 5), color="#3b6ea8", edgecolor="white")
    ax.axvline(mean, color="#c0392b", linestyle="--", label=f"mean {mean:.1f}%")
    ax.axvline(median, color="#222222", linestyle=":", label=f"median {median:.1f}%")
    ax.set(xlim=(0, 100), xlabel="percent of the points", ylabel="submissions")
    ax.set_title(textwrap.fill(title, 60, break_on_hyphens=False), fontsize=10)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(frameon=False, fontsize=8)


def score_figure(grades: list) -> str:
    """The whole grade's distribution and each part's: the code, the notebook, the answers (once
    scored) and the total, each in percent of its points."""
    import matplotlib.pyplot as plt

    scored, pending = any_scored(grades), unscored_teams(grades)
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 6.0))
    (code, notebook), (answers, whole) = axes
    histogram(code, [100 * g.total / TOTAL_POINTS for g in grades],
              f"Code ({TOTAL_POINTS} pts, {len(grades)} submissions)")
    histogram(notebook, [100 * notebook_points(g) / NOTEBOOK_POINTS for g in grades],
              f"Notebook ({NOTEBOOK_POINTS} pts)")
    if scored:
        note = f"; answers not scored yet count 0: {plural(pending, 'team')}" if pending else ""
        histogram(answers, [100 * answer_points(g) / ANSWER_POINTS for g in grades],
                  f"Answers ({ANSWER_POINTS} pts{note})")
    else:
        answers.set_axis_off()
        answers.text(0.5, 0.5, f"Answers ({ANSWER_POINTS} pts): not scored yet\n(merge the TA's scores with --manual)",
                     ha="center", va="center", fontsize=10, color="#6b7785", transform=answers.transAxes)
    whole_note = " (answers not scored yet count 0)" if pending else ""
    histogram(whole, [100 * whole_points(g) / GRADE_POINTS for g in grades],
              f"Whole grade ({GRADE_POINTS} pts){whole_note}")
    fig.tight_layout()
    uri = png_data_uri(fig)
    plt.close(fig)
    return uri


GREEN, RED, AMBER, GREY = "#2e8b57", "#c0392b", "#e0a030", "#9aa5b1"


def points_bars(ax, values: list[float | None], points: int, title: str) -> None:
    """How many submissions got each number of a part's points (None: not scored yet, in grey)."""
    counts = Counter(None if v is None else round(v, 2) for v in values)
    shown = sorted(v for v in counts if v is not None)
    labels = [f"{v:g}" for v in shown]
    colours = [RED if v == 0 else GREEN if v == points else AMBER for v in shown]
    heights = [counts[v] for v in shown]
    if None in counts:
        labels.append("not scored")
        colours.append(GREY)
        heights.append(counts[None])
    ax.bar(labels, heights, color=colours)
    ax.set_title(textwrap.fill(title, 34, break_on_hyphens=False), fontsize=9)
    ax.set_xlabel("points", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.yaxis.get_major_locator().set_params(integer=True)


def task_points_figure(grades: list) -> str:
    """One bar chart a part of the grade: each task, the notebook and each question; how many
    submissions got each number of points (a question's answers not scored yet in grey)."""
    import matplotlib.pyplot as plt

    questions = {s.key: s for s in question_statistics(grades)}
    parts = [(f"Task {t.number} ({t.points} pts): {t.title}", t.points,
              [g.task_points.get(t.key, 0.0) for g in grades]) for t in TASKS]
    parts.append((f"Notebook ({NOTEBOOK_POINTS} pts, {len(NOTEBOOK_CHECKS)} checks)", NOTEBOOK_POINTS,
                  [notebook_points(g) for g in grades]))
    parts += [(f"{q.label} ({q.points} pts): {questions[q.key].answered} of {len(grades)} answered", q.points,
               [manual_points(g, q) for g in grades]) for q in QUESTIONS]
    rows = -(-len(parts) // FIGURE_COLUMNS)
    fig, axes = plt.subplots(rows, FIGURE_COLUMNS, figsize=(12, 2.5 * rows), squeeze=False)
    for ax in axes.flat[len(parts):]:
        ax.set_visible(False)
    for (title, points, values), ax in zip(parts, axes.flat):
        points_bars(ax, values, points, title)
    for ax in axes[:, 0]:
        ax.set_ylabel("submissions")
    fig.tight_layout()
    uri = png_data_uri(fig)
    plt.close(fig)
    return uri


# ----------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1200px;
       color: #1d2733; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 2px solid #dde3ea; }
.lead { color: #4a5866; margin-top: 0; }
nav a { margin-right: 14px; }
.numbers { display: flex; gap: 12px; flex-wrap: wrap; margin: 14px 0; }
.numbers div { background: #f2f5f8; border-radius: 6px; padding: 8px 14px; }
.numbers b { display: block; font-size: 20px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid #e4e8ed; }
th { background: #f2f5f8; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; }
.bar { background: #e8ecf0; height: 8px; border-radius: 4px; width: 90px; margin-top: 4px; }
.bar span { display: block; height: 8px; border-radius: 4px; background: #c0392b; }
.bar.score span { background: #2e8b57; }
td.num .why { white-space: normal; font-size: 12px; color: #6b7785; }
.check-name { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; color: #4a5866; }
.msg { margin: 2px 0 8px; }
.msg pre { white-space: pre-wrap; margin: 2px 0 0; font-size: 12px; background: #fbf6e9; padding: 4px 6px;
           border-radius: 4px; }
.msg summary { font-size: 12px; color: #6b7785; cursor: pointer; }
.count { font-weight: 600; }
.muted { color: #6b7785; }
img { max-width: 100%; }
details.pair { border: 1px solid #dde3ea; border-radius: 6px; margin: 10px 0; padding: 0 10px; }
details.pair summary { cursor: pointer; padding: 8px 0; font-weight: 600; }
.side { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 10px; padding-bottom: 10px; }
.side h3 { font-size: 13px; margin: 4px 0; word-break: break-all; }
.code { font: 12px/1.35 ui-monospace, Menlo, Consolas, monospace; border: 1px solid #e4e8ed; overflow-x: auto; }
.code div { white-space: pre; padding: 0 6px; }
.code i { display: inline-block; width: 3.2em; color: #8a96a3; font-style: normal; user-select: none; }
.code .hit { background: #ffe08a; }
.code .gap { color: #8a96a3; background: #f2f5f8; font-style: italic; }
"""


def page(body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Class report</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def rerun_summary(grades: list) -> str:
    """``3 reproduced, 1 differ, 2 not confirmed`` over the teams re-run, or ``none``."""
    states = [nb.rerun.state for g in grades if (nb := notebook_report(g)) is not None and nb.rerun is not None]
    if not states:
        return "none"
    return ", ".join(f"{states.count(state)} {short}" for state, short in
                     ((REPRODUCED, "reproduced"), (DIFFERS, "differ"), (NOT_CONFIRMED, "not confirmed")) if state in states)


def summary_section(grades: list, trouble: list, pairs: list | None, threshold: float | None) -> str:
    totals, wholes = [g.total for g in grades], [whole_points(g) for g in grades]
    pending = unscored_teams(grades)
    answers = (f"{statistics.mean(answer_points(g) for g in grades):.1f} / {ANSWER_POINTS}" if any_scored(grades)
               else "not scored yet")
    boxes = [("submissions", f"{len(grades)}"),
             ("mean code score", f"{statistics.mean(totals):.1f} / {TOTAL_POINTS}"),
             ("median code score", f"{statistics.median(totals):.1f} / {TOTAL_POINTS}"),
             ("mean notebook score", f"{statistics.mean(notebook_points(g) for g in grades):.1f} / {NOTEBOOK_POINTS}"),
             ("mean answers score" + (f" ({plural(pending, 'team')} not fully scored)" if pending and any_scored(grades)
                                      else ""), answers),
             ("mean grade" + (" (answers not scored yet count 0)" if pending else ""),
              f"{statistics.mean(wholes):.1f} / {GRADE_POINTS}"),
             ("median grade", f"{statistics.median(wholes):.1f} / {GRADE_POINTS}"),
             ("notebooks re-run (--rerun)", rerun_summary(grades)),
             ("not graded normally", f"{len(trouble)}"),
             ("similar pairs", "detection off" if pairs is None else f"{len(pairs)} (threshold {threshold:g})")]
    items = "".join(f"<div><b>{escape(value)}</b>{escape(label)}</div>" for label, value in boxes)
    links = ('<nav><a href="#scores">Scores</a><a href="#checks">Checks</a><a href="#notebook">Notebook</a>'
             '<a href="#questions">Questions</a><a href="#rerun">Re-run</a>'
             '<a href="#not-graded">Not graded normally</a><a href="#students">Students</a>'
             '<a href="#shared-names">Shared names</a>'
             '<a href="#similarity">Similar code</a></nav>')
    return f'<div class="numbers">{items}</div>\n{links}'


def scores_section(grades: list) -> str:
    return (f'<h2 id="scores">Scores</h2>\n<p class="muted">The whole grade: the code\'s {TOTAL_POINTS} points '
            f'(the hidden checks), the notebook\'s {NOTEBOOK_POINTS}, the answers\' {ANSWER_POINTS} (scored by a TA, '
            f'merged with <code>--manual</code>); {GRADE_POINTS} in all.</p>\n'
            f'<img alt="score distribution" src="{score_figure(grades)}">\n'
            f'<h3>Points per part</h3>\n<p class="muted">Each task, the notebook and each question. Green: full '
            f'points, red: none, amber: some; grey: answers not scored yet.</p>\n'
            f'<img alt="points distribution per task, of the notebook and per question" '
            f'src="{task_points_figure(grades)}">')


def failed_cell(failed: int, of: int, share: float) -> str:
    """A table cell: ``failed / of``, a bar of the share and the share in percent."""
    return (f'<td class="num">{failed} / {of}<div class="bar"><span style="width:{100 * share:.0f}%">'
            f'</span></div>{100 * share:.0f}%</td>')


def checks_section(stats: list[CheckStats]) -> str:
    if not stats:
        return '<h2 id="checks">Checks</h2>\n<p>No submission was checked (every one failed before grading).</p>'
    titles = {t.number: t.title for t in TASKS}
    rows = []
    for rank, s in enumerate(stats, start=1):
        rows.append(
            f"<tr><td class=\"num\">{rank}</td>"
            f"<td>{escape(s.description)}<div class=\"check-name\">{escape(s.name)}</div></td>"
            f"<td>{s.task}<div class=\"muted\">{escape(titles.get(s.task, ''))}</div></td>"
            f"{failed_cell(s.failed, s.graded, s.share)}<td>{messages_cell(s.messages)}</td></tr>")
    return ('<h2 id="checks">Checks, most failed first</h2>\n<p class="muted">Failed: submissions that failed the '
            'check / submissions that have it. Failure messages are grouped when they differ only in numbers '
            'and shapes; each group shows its first message.</p>\n'
            '<table><tr><th>#</th><th>Check</th><th>Task</th><th>Failed</th><th>Most frequent failure messages</th>'
            '</tr>\n' + "\n".join(rows) + "\n</table>")


def notebook_section(stats: list[NotebookCheckStats]) -> str:
    rows = []
    for rank, s in enumerate(stats, start=1):
        rows.append(
            f"<tr><td class=\"num\">{rank}</td>"
            f"<td>{escape(s.title)}<div class=\"check-name\">{escape(s.key)}</div></td>"
            f"<td class=\"num\">{s.points}</td>"
            f"{failed_cell(s.failed, s.teams, s.share)}<td class=\"num\">{s.passed}</td>"
            f"<td>{messages_cell(s.findings)}</td></tr>")
    return ('<h2 id="notebook">Notebook checks, most failed first</h2>\n<p class="muted">Each team\'s '
            '<code>lab.ipynb</code>, read as committed, never run. Failed: teams whose notebook failed the check / '
            'teams (a single-file submission has no notebook). Findings are grouped when they differ only in '
            'numbers; each group shows its first.</p>\n'
            '<table><tr><th>#</th><th>Check</th><th>Points</th><th>Failed</th><th>Passed</th>'
            '<th>Most frequent findings</th></tr>\n' + "\n".join(rows) + "\n</table>")


def questions_section(stats: list[QuestionStats], scored: bool) -> str:
    heading = '<h2 id="questions">Questions, worst answered first</h2>\n'
    if scored:
        intro = ('<p class="muted">Mean and median: the TA\'s points of the teams scored, as a share of the '
                 'question\'s points (an answer left empty, as the placeholder or not found is pre-filled with 0 '
                 'in <code>manual_scores.csv</code>). Questions with no team scored yet come last.</p>\n')
        pending = sum(s.not_scored for s in stats)
        if pending:
            intro += f"<p>{plural(pending, 'answer')} not scored yet (see the last column).</p>\n"
    else:
        intro = ('<p>The questions are not scored yet: no TA scores were merged. Fill in '
                 '<code>manual_scores.csv</code> next to <code>answers.html</code>, then run again with '
                 '<code>--manual manual_scores.csv</code>. Until then the questions are listed by how many teams '
                 'left them unanswered, the most first.</p>\n')
    rows = []
    for rank, s in enumerate(stats, start=1):
        text = s.text if len(s.text) <= QUESTION_TEXT_SHOWN else s.text[:QUESTION_TEXT_SHOWN].rstrip() + " ..."
        if s.scores:
            share = f"{100 * s.mean_share:.0f}%"
            mean = (f"{share}<div class=\"bar score\"><span style=\"width:{share}\"></span></div>"
                    f"{s.mean:.2f} / {s.points}")
            median = f"{s.median:g} / {s.points}"
        else:
            mean, median = '<span class="muted">not scored yet</span>', '<span class="muted">&ndash;</span>'
        states = sorted(s.unanswered_states.items(), key=lambda kv: (-kv[1], kv[0]))
        why = "; ".join(state if len(states) == 1 else f"{state}: {n}" for state, n in states)
        why = f'<div class="why">{escape(why)}</div>' if why else ""
        rows.append(
            f"<tr><td class=\"num\">{rank}</td><td>{escape(s.label)}<div class=\"muted\">{escape(text)}</div></td>"
            f"<td class=\"num\">{s.points}</td><td class=\"num\">{mean}</td><td class=\"num\">{median}</td>"
            f"<td class=\"num\">{s.answered}</td><td class=\"num\">{s.unanswered}{why}</td>"
            f"<td class=\"num\">{s.scored}</td><td class=\"num\">{s.not_scored}</td></tr>")
    return (heading + intro + '<table><tr><th>#</th><th>Question</th><th>Max points</th><th>Mean score</th>'
            '<th>Median</th><th>Answered</th><th>Unanswered</th><th>Scored</th><th>Not scored yet</th></tr>\n'
            + "\n".join(rows) + "\n</table>")


def messages_cell(groups: list[MessageGroup]) -> str:
    shown = "".join(f'<div class="msg"><span class="count">{g.count}&times;</span>{message_view(g.example)}</div>'
                    for g in groups[:MESSAGE_GROUPS_SHOWN])
    rest = sum(g.count for g in groups[MESSAGE_GROUPS_SHOWN:])
    other_groups = len(groups) - MESSAGE_GROUPS_SHOWN
    more = f'<div class="muted">and {plural(rest, "other failure")} ({plural(other_groups, "other message")})</div>'
    return shown + (more if rest else "")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def message_view(message: str) -> str:
    """The first lines of a message; the rest (a failing example, say) folded away."""
    lines = message.splitlines() or [""]
    head, rest = "\n".join(lines[:MESSAGE_LINES_SHOWN]), "\n".join(lines[MESSAGE_LINES_SHOWN:])
    shown = f"<pre>{escape(head)}</pre>"
    if not rest:
        return shown
    folded = len(lines) - MESSAGE_LINES_SHOWN
    return f"{shown}<details><summary>{folded} more lines</summary><pre>{escape(rest)}</pre></details>"


def authors_view(authors: list[str]) -> str:
    """The team's names under a submission's name (nothing when it names none)."""
    return f'<div class="muted">{escape("; ".join(authors))}</div>' if authors else ""


def shared_names(grades: list) -> dict[str, list[str]]:
    """Names (compared without case and spacing) that the ``AUTHORS`` of more than one submission
    list: name -> the submissions. Someone named by two teams, or a classmate's name borrowed."""
    where: dict[str, list[str]] = {}  # folded name -> submissions
    shown: dict[str, str] = {}  # folded name -> as first written
    for g in grades:
        for author in g.authors:
            key = " ".join(author.split()).casefold()
            shown.setdefault(key, author)
            files = where.setdefault(key, [])
            if g.file not in files:
                files.append(g.file)
    return {shown[name]: files for name, files in where.items() if len(files) > 1}


def students_section(ownership) -> str:
    """Who each team's students are: GitHub Classroom's (``rnnlab.classroom.Ownership``, read by duck typing:
    ``export``, ``students_of``, ``mismatches``, ``unowned``, ``without_repository``), or self-declared."""
    heading = '<h2 id="students">Students</h2>\n'
    if ownership is None:
        return heading + ("<p>Identities are self-declared: each team's students are whoever its <code>AUTHORS</code> "
                          "names. Grade with <code>--classroom</code> (GitHub Classroom's "
                          "<code>classroom_roster.csv</code>) to take them from the platform.</p>")
    parts = [heading + f"<p>From GitHub Classroom ({escape(ownership.export.path.name)}): each repository's students, "
             "whatever its <code>AUTHORS</code> says; the gradebook follows them.</p>"]
    if ownership.mismatches:
        rows = "\n".join(f"<tr><td>{escape(file)}</td><td>{escape('; '.join(s.label for s in ownership.students_of[file]))}"
                         f"</td><td>{escape('; '.join(notes))}</td></tr>" for file, notes in ownership.mismatches.items())
        parts.append(f"<p>{plural(len(ownership.mismatches), 'submission')} whose <code>AUTHORS</code> disagree with "
                     "the Classroom (no points lost, nobody's grade changed):</p>\n<table><tr><th>Submission</th>"
                     f"<th>Its students</th><th>AUTHORS</th></tr>\n{rows}\n</table>")
    else:
        parts.append("<p>Every <code>AUTHORS</code> list that names anyone agrees with the Classroom.</p>")
    if ownership.unowned:
        rows = "\n".join(f"<tr><td>{escape(file)}</td><td>{escape(fix)}</td></tr>" for file, fix in ownership.unowned.items())
        count = plural(len(ownership.unowned), "submission")
        parts.append(f"<p class=\"warn\">No student's repository per the Classroom ({count}): their grade reaches "
                     f"nobody.</p>\n<table><tr><th>Submission</th><th>To fix</th></tr>\n{rows}\n</table>")
    if ownership.without_repository:
        rows = "\n".join(f"<tr><td>{escape(st.label)}</td><td>{escape(why)}</td></tr>"
                         for st, why in ownership.without_repository)
        parts.append(f"<p class=\"warn\">{plural(len(ownership.without_repository), 'student')} with no repository in "
                     f"this class, so no grade:</p>\n<table><tr><th>Student</th><th>Why</th></tr>\n{rows}\n</table>")
    return "\n".join(parts)


def shared_names_section(shared: dict[str, list[str]]) -> str:
    heading = '<h2 id="shared-names">Names in more than one submission</h2>\n'
    if not shared:
        return heading + "<p>No name appears in the <code>AUTHORS</code> of two submissions.</p>"
    rows = "\n".join(f"<tr><td>{escape(name)}</td><td>{escape(', '.join(files))}</td></tr>"
                     for name, files in sorted(shared.items()))
    return (heading + f"<p>{plural(len(shared), 'name')} in the <code>AUTHORS</code> of more than one submission: "
            "a student in two teams, or a classmate's name borrowed. No points are taken; each row's status says "
            "so. Ask who did the work.</p>\n"
            f"<table><tr><th>Name</th><th>Submissions</th></tr>\n{rows}\n</table>")


def rerun_section(grades: list) -> str:
    """``--rerun``: the teams whose printed numbers the course's run did not confirm, and why (each lost
    the points of the claims and the results table)."""
    heading = '<h2 id="rerun">Notebooks the re-run did not confirm</h2>\n'
    rerun = [(g, nb.rerun) for g in grades if (nb := notebook_report(g)) is not None and nb.rerun is not None]
    if not rerun:
        return heading + "<p>No notebook was re-run (<code>rnnlab grade --rerun</code>).</p>"
    withheld = [(g, r) for g, r in rerun if r.state != REPRODUCED]
    if not withheld:
        return heading + f"<p>Every one of the {plural(len(rerun), 'notebook')} re-run was reproduced.</p>"
    rows = "\n".join(f"<tr><td>{escape(g.file)}{authors_view(g.authors)}</td><td>{escape(r.state)}</td>"
                     f"<td>{escape(r.detail)}</td></tr>" for g, r in withheld)
    return (heading + f"<p>{plural(len(withheld), 'team')} of {len(rerun)} re-run, without the points of the claims "
            "and the results table. \"Numbers differ\": the course's own run of the experiment, certified, printed "
            "other numbers. \"Not confirmed\": the course could not certify them (why is said): weigh it, and give "
            "the points back by hand where you are satisfied.</p>\n"
            f"<table><tr><th>Team</th><th>Verdict</th><th>Why</th></tr>\n{rows}\n</table>")


def not_graded_section(trouble: list) -> str:
    heading = '<h2 id="not-graded">Could not be graded normally</h2>\n'
    if not trouble:
        return heading + "<p>Every submission was graded normally.</p>"
    rows = "\n".join(f"<tr><td>{escape(g.file)}{authors_view(g.authors)}</td>"
                     f"<td>{escape(g.status)}</td><td class=\"num\">{g.total:g}</td></tr>" for g in trouble)
    return (heading + f"<p>{plural(len(trouble), 'submission')}; their points (if any) are in final_grades.csv.</p>\n"
            f"<table><tr><th>Submission</th><th>Status</th><th>Points</th></tr>\n{rows}\n</table>")


def similarity_section(result: similarity.SimilarityResult | None, threshold: float | None,
                       authors: dict[str, list[str]]) -> str:
    heading = '<h2 id="similarity">Similar code</h2>\n'
    if result is None:
        return heading + "<p>Copy detection was off (<code>--no-similarity</code>).</p>"
    intro = (f"<p>Pairs where at least {threshold:.0%} of the smaller submission's own code is also in the other "
             f"(own code: what is neither given, nor a stub, nor the reference solution; renamed variables, "
             f"comments and layout do not count). Highlighted: lines in code both share. A high score is a "
             f"reason to look, not a verdict.</p>\n")
    if result.without_code:
        intro += (f'<p class="muted">Not compared (no readable code, or fewer than {similarity.KGRAM} tokens): '
                  f'{escape(", ".join(result.without_code))}</p>\n')
    if result.hidden_code:
        intro += ('<p class="warn">Not comparable: these run code built while they run, which no comparison sees; '
                  "read them: " + "; ".join(f"{escape(name)} ({escape(why)})" for name, why in
                                             sorted(result.hidden_code.items())) + "</p>\n")
    if not result.pairs:
        return heading + intro + "<p>No pair reaches the threshold.</p>"
    shown = result.pairs[:PAIRS_SHOWN]
    more = len(result.pairs) - len(shown)
    pairs_html = "\n".join(pair_view(p, result.codes, authors, opened=i < 3) for i, p in enumerate(shown))
    tail = f'<p class="muted">{more} more pairs are in similarity.csv.</p>' if more else ""
    return heading + intro + pairs_html + tail


def pair_view(pair: similarity.SimilarPair, codes: dict[str, str], authors: dict[str, list[str]],
              opened: bool) -> str:
    title = (f"{escape(pair.a)} &harr; {escape(pair.b)}: score {pair.score:.2f}, {pair.shared} shared fingerprints "
             f"({pair.share_of_a:.0%} of the first one's own code, {pair.share_of_b:.0%} of the second one's)")
    sides = "".join(f"<div><h3>{escape(name)}</h3>{authors_view(authors.get(name, []))}{code_view(codes[name], lines)}"
                    "</div>" for name, lines in ((pair.a, pair.lines_a), (pair.b, pair.lines_b)))
    state = " open" if opened else ""
    return f'<details class="pair"{state}><summary>{title}</summary><div class="side">{sides}</div></details>'


def code_view(code: str, highlighted: list[int]) -> str:
    """The highlighted lines with a little context; the rest collapsed into "N lines" markers."""
    lines = code.splitlines()
    hits = set(highlighted)
    shown = {n for h in hits for n in range(h - CONTEXT_LINES, h + CONTEXT_LINES + 1) if 1 <= n <= len(lines)}
    rows, skipped = [], 0
    for number, text in enumerate(lines, start=1):
        if number not in shown:
            skipped += 1
            continue
        if skipped:
            rows.append(f'<div class="gap">&#8942; {skipped} lines</div>')
            skipped = 0
        css = ' class="hit"' if number in hits else ""
        rows.append(f"<div{css}><i>{number}</i>{escape(text)}</div>")
    if skipped:
        rows.append(f'<div class="gap">&#8942; {skipped} lines</div>')
    return f'<div class="code">{"".join(rows)}</div>'


def report_html(grades: list, stats: list[CheckStats], result: similarity.SimilarityResult | None,
                threshold: float | None, notebook_stats: list[NotebookCheckStats] | None = None,
                question_stats: list[QuestionStats] | None = None, ownership=None) -> str:
    header = "<h1>Class report</h1>\n"
    if not grades:
        return page(header + '<p class="lead">There is nothing to report: no submission was graded.</p>')
    notebook_stats = notebook_statistics(grades) if notebook_stats is None else notebook_stats
    question_stats = question_statistics(grades) if question_stats is None else question_stats
    trouble = not_graded_normally(grades)
    pairs = None if result is None else result.pairs
    sections = [summary_section(grades, trouble, pairs, threshold), scores_section(grades),
                checks_section(stats), notebook_section(notebook_stats),
                questions_section(question_stats, any_scored(grades)), rerun_section(grades),
                not_graded_section(trouble), students_section(ownership), shared_names_section(shared_names(grades)),
                similarity_section(result, threshold, {g.file: g.authors for g in grades})]
    lead = (f'<p class="lead">{plural(len(grades), "submission")}; {GRADE_POINTS} points: the code {TOTAL_POINTS} '
            f'({len(TASKS)} tasks), the notebook {NOTEBOOK_POINTS} ({len(NOTEBOOK_CHECKS)} checks), the answers '
            f'{ANSWER_POINTS} ({len(QUESTIONS)} questions).</p>\n')
    return page(header + lead + "\n".join(sections))


# ----------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------

def spreadsheet_safe(cell: str) -> str:
    """Text from submissions (messages, file names) must not become a spreadsheet formula, nor carry
    control characters (terminal escapes) into the sheet."""
    cell = printable(cell)
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def number(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{round(value, digits):g}"


def write_summary_csv(stats: list[CheckStats], path: Path, notebook_stats: list[NotebookCheckStats] = (),
                      question_stats: list[QuestionStats] = ()) -> None:
    """The code's checks (most failed first), the notebook's (alike), then the questions (worst answered
    first), as on the page; a column that does not apply to a row is blank."""
    blank_answers = [""] * 8  # answered ... median_share_of_max
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(SUMMARY_COLUMNS)
        for s in stats:
            writer.writerow([spreadsheet_safe(s.name), s.task, spreadsheet_safe(s.description), s.failed, s.graded,
                             f"{s.share:.4f}", spreadsheet_safe(s.messages[0].example) if s.messages else "",
                             CODE, "", s.graded - s.failed, *blank_answers])
        for s in notebook_stats:
            writer.writerow([s.key, "", spreadsheet_safe(s.title), s.failed, s.teams, f"{s.share:.4f}",
                             spreadsheet_safe(s.findings[0].example) if s.findings else "",
                             NOTEBOOK, s.points, s.passed, *blank_answers])
        for s in question_stats:
            writer.writerow([s.key, "", spreadsheet_safe(f"{s.label}: {s.text}" if s.text else s.label), "", s.teams,
                             "", "", QUESTION, s.points, "", s.answered, s.unanswered, s.scored, s.not_scored,
                             number(s.mean), number(s.median), number(s.mean_share), number(s.median_share)])


def write_similarity_csv(pairs: list[similarity.SimilarPair], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(SIMILARITY_COLUMNS)
        for p in pairs:
            writer.writerow([spreadsheet_safe(p.a), spreadsheet_safe(p.b), f"{p.score:.4f}", p.shared, f"{p.share_of_a:.4f}", f"{p.share_of_b:.4f}",
                             line_ranges(p.lines_a), line_ranges(p.lines_b)])


def line_ranges(lines: list[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``"3-5 9"``."""
    ranges: list[list[int]] = []
    for n in lines:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    return " ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges)


# ----------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------

def write_class_report(grades: list, sources: dict[str, Path], out: Path, similarity_threshold: float | None,
                       ownership=None) -> None:
    """Writes out/report.html, out/class_summary.csv, out/similarity.csv. similarity_threshold None = detection off
    (similarity.csv then still written, header only, and the page says detection was off). ownership: the
    students of each submission from GitHub Classroom (``rnnlab.classroom.Ownership``), None when self-declared."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = None
    if similarity_threshold is not None:
        compared = {g.file: Path(sources[g.file]) for g in grades if g.file in sources}
        result = similarity.find_similar(compared, similarity_threshold)
    stats = check_statistics(grades)
    notebook_stats = notebook_statistics(grades) if grades else []
    question_stats = question_statistics(grades) if grades else []
    (out / "report.html").write_text(report_html(grades, stats, result, similarity_threshold, notebook_stats,
                                                 question_stats, ownership), encoding="utf-8")
    write_summary_csv(stats, out / "class_summary.csv", notebook_stats, question_stats)
    write_similarity_csv([] if result is None else result.pairs, out / "similarity.csv")
