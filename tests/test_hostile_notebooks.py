"""No team's notebook can crash, hang or bloat the class's outputs: every reader of a notebook is
linear in its size and keeps a bounded part of it; whatever the file holds, reading it gives that
team a status; no control character reaches a file a person reads."""

import csv
import json
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import RUNS_THE_JUDGE
from rnnjudge.session import CONTROL_CHARACTERS
from rnnlab.tasks import TASKS, TOTAL_POINTS
from rnnlab.notebook import ANSWER_CHARS, CLAIM_CHARS, MAX_CLAIMS, answers_of, claims_in, printed_tables, read_notebook
from student_notebooks import answered, run, template, write
from submission_bank import SOLUTION

REPO = Path(__file__).resolve().parent.parent
RNNLAB = [str(REPO / ".venv" / "bin" / "rnnlab")] if (REPO / ".venv" / "bin" / "rnnlab").exists() else ["rnnlab"]
HANG_S = 60  # a reader that has not finished by then is taken to be stuck (they take well under a second here)
ESCAPE = "\x1b[2J\x1b[31mRED\x1b]0;title\x07\r\x08"


@contextmanager
def must_finish(what: str, seconds: int = HANG_S):
    def stuck(*_):
        raise AssertionError(f"{what} did not finish within {seconds} s: its time grows faster than its input")

    old = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# What a red team printed or wrote (each within the 32 MB cap).
HUGE_MARKER = "**Q" + "9" * 5000 + ".**\n\nan answer\n\n**Q1.** the question\n\nreal answer"
TABLE_FRAGMENTS = "model  a\n-  -\n" * 240_000  # 3.6 MB: every other line a header and its rule
CLAIM_LINES = "HOLDS  a claim\n" + "       and more\n" * 1_200_000
FAILS_LINES = "FAILS  " + "x" * 100 + "\n" * 1 + "FAILS  y\n" * 289_000


def test_a_question_marker_of_5000_digits_is_not_a_question():
    with must_finish("answers_of"):
        answers = answers_of(HUGE_MARKER)
    assert answers["q1"].text == "real answer"


def test_table_fragments_are_read_in_linear_time():
    with must_finish("printed_tables"):
        tables = printed_tables(TABLE_FRAGMENTS)
    assert all(len(t) <= 20 for t in tables)


def test_a_claim_of_a_million_lines_is_cut_and_claims_are_bounded():
    with must_finish("claims_in"):
        claims = claims_in(CLAIM_LINES)
        many = claims_in(FAILS_LINES)
    assert len(claims) == 1 and len(claims[0][1]) <= CLAIM_CHARS
    assert len(many) == MAX_CLAIMS


def test_answers_are_cut_and_control_characters_dropped(tmp_path):
    nb = answered(run(template()), {1: ESCAPE + "x" * (2 * ANSWER_CHARS), 2: "bad \ud800 surrogate"})
    path = tmp_path / "lab.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8", errors="surrogatepass")
    report = read_notebook(path)
    assert len(report.answers["q1"].text) < ANSWER_CHARS + 100
    assert not CONTROL_CHARACTERS.search(report.answers["q1"].text + report.answers["q2"].text)


# Fragments of what the readers look for (markers, table headers and rules, claims), escapes and junk.
FRAGMENTS = [*"ab 0123456789.-*Q\n\t\x1b\r\x00", "model  ", "recall acc  ", "grad@20 init", "-  -\n", "HOLDS  ",
             "FAILS  ", "       ", "**Q1.**", "**Q7.**", "\n\n", "perplexity floor: 3.5", "distance  model  "]
cell_text = st.lists(st.sampled_from(FRAGMENTS), max_size=300).map(lambda parts: "".join(parts) * 40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(sources=st.lists(cell_text, min_size=1, max_size=6), outputs=st.lists(cell_text, max_size=6),
       counts=st.lists(st.one_of(st.none(), st.integers(-3, 10**30)), max_size=6))
def test_any_notebook_gives_a_report_with_bounded_printable_text(tmp_path_factory, sources, outputs, counts):
    cells = [nbformat.v4.new_markdown_cell(s) for s in sources]
    for i, text in enumerate(outputs):
        cell = nbformat.v4.new_code_cell("print()")
        cell.execution_count = counts[i] if i < len(counts) else None
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        cells.append(cell)
    path = tmp_path_factory.mktemp("nb") / "lab.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with must_finish("read_notebook"):
        report = read_notebook(path)
    texts = [report.status, report.summary, *report.errors, *(t for _, t in report.claims),
             *(a.text for a in report.answers.values()),
             *(k for model, cols in report.numbers.items() for k in (model, *cols, *cols.values()))]
    assert not any(CONTROL_CHARACTERS.search(t) for t in texts)
    assert len(report.claims) <= MAX_CLAIMS


def test_one_printed_holds_line_is_not_the_experiment(tmp_path):
    """A notebook whose one run cell prints `HOLDS ...` earns nothing for its claims; the template
    run as a student runs it (claims and the results table of every model) does."""
    nb = template()
    nb.cells.append(nbformat.v4.new_code_cell("print('HOLDS  everything')", execution_count=1,
                                              outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                                              text="HOLDS  everything\n")]))
    forged = read_notebook(write(nb, tmp_path / "forged"))
    assert forged.passed["claims_printed"] is False
    assert read_notebook(write(answered(run(template())), tmp_path / "honest")).passed["claims_printed"] is True
