"""The judge against the solution, the skeleton and the submission bank (each through a real
sandboxed worker), and the parts of the judge that need no worker."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rnnjudge import protocol
from rnnjudge.judge import AUTHOR_CHARS, NO_AUTHORS, judge_submission, submission_authors, submission_code
from rnnjudge.registry import CHECKS
from rnnlab.tasks import TASKS
from conftest import COURSE_KEY, RUNS_THE_JUDGE
from submission_bank import BUGGY, CORRECT, SOLUTION, apply_edits

pytestmark = RUNS_THE_JUDGE

REPO = Path(__file__).resolve().parent.parent


def judge_source(item: tuple[str, str, str]) -> tuple[str, dict]:
    name, source, folder = item
    path = Path(folder) / f"{name}.py"
    path.write_text(source)
    return name, judge_submission(path, COURSE_KEY)


# The bank entries `make test` judges: one or two mistakes a task (the hurried student's first), two
# correct alternatives, the old reference's restore of evaluate (every submodule given the model's
# mode, which only mixed modes show) and the modes restored as they should be, and those the tests
# below name; `make test-all` judges the whole bank.
FAST_BANK = {"rnn_state_made_on_the_cpu", "rnn_no_padding_idx", "lstm_not_batch_first", "loss_gather_on_raw_targets",
             "loss_view_needs_contiguous", "loss_exits_the_process", "eval_mean_of_batch_means", "eval_never_calls_eval",
             "norm_sum_of_norms", "gtt_hook_never_removed", "gtt_zero_beyond_distance_10",
             "parameters_created_in_another_order", "gtt_backward_with_inputs",
             "eval_gives_every_submodule_the_model_mode", "eval_restores_modes_parents_first"}
NAMED_IN_TESTS = {"solution", "skeleton", "loss_no_pad_mask", "rnn_hidden_reset_every_step", "rnn_relu_cell"}


def bank_params(names) -> list:
    return [name if name in FAST_BANK else pytest.param(name, marks=pytest.mark.exhaustive) for name in sorted(names)]


@pytest.fixture(scope="session")
def judged(request, tmp_path_factory) -> dict[str, dict]:
    """The bank submissions the selected tests read, each judged once (two judge processes at a time)."""
    needed = set(NAMED_IN_TESTS)
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if "judged" in item.fixturenames and callspec is not None and "name" in callspec.params:
            needed.add(callspec.params["name"])
    folder = str(tmp_path_factory.mktemp("bank"))
    sources = {"solution": SOLUTION, "skeleton": (REPO / "assignment" / "rnn_lm.py").read_text()}
    sources |= {name: apply_edits(edits) for name, (_, edits) in BUGGY.items()}
    sources |= {name: apply_edits(edits) for name, edits in CORRECT.items()}
    items = [(name, source, folder) for name, source in sources.items() if name in needed]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        return dict(pool.map(judge_source, items))


def task_scores(result: dict) -> dict[int, float]:
    per_task = {t.number: [c["passed"] for c in result["checks"].values() if c["task"] == t.number] for t in TASKS}
    return {task: sum(oks) / len(oks) for task, oks in per_task.items()}


def failures(result) -> str:
    return "\n".join(c["feedback"] for c in result["checks"].values() if not c["passed"])


def test_every_task_has_checks():
    assert {c.task for c in CHECKS.values()} == {t.number for t in TASKS}


def test_solution_passes_every_check(judged):
    result = judged["solution"]
    assert all(s == 1.0 for s in task_scores(result).values()), failures(result)
    assert result["problems"] == []
    assert result["authors"] == [] and result["notes"] == [NO_AUTHORS]  # the skeleton's empty AUTHORS


def test_skeleton_fails_every_check_as_not_implemented(judged):
    result = judged["skeleton"]
    assert all(s == 0.0 for s in task_scores(result).values())
    assert all(": not implemented (Task " in c["feedback"] for c in result["checks"].values())
    assert "nothing implemented (untouched stubs)" in result["problems"]


def test_fast_bank_names_bank_entries():
    assert FAST_BANK <= set(BUGGY) | set(CORRECT) and NAMED_IN_TESTS - {"solution", "skeleton"} <= set(BUGGY)
    assert {BUGGY[n][0] for n in FAST_BANK if n in BUGGY} == {t.number for t in TASKS}  # every task


@pytest.mark.parametrize("name", bank_params(BUGGY))
def test_buggy_submission_loses_points_on_its_task_only(judged, name):
    task, _ = BUGGY[name]
    result = judged[name]
    scores = task_scores(result)
    assert scores[task] < 1.0, f"{name} kept full marks on Task {task}"
    others = {t: s for t, s in scores.items() if t != task and s < 1.0}
    assert not others, f"{name} also lost points on {others}:\n{failures(result)}"
    for c in result["checks"].values():
        if not c["passed"]:
            assert "FAILED" in c["feedback"] and len(c["message"]) > 20  # says what was checked and what was wrong


@pytest.mark.parametrize("name", bank_params(CORRECT))
def test_alternative_correct_submission_gets_full_marks(judged, name):
    assert all(s == 1.0 for s in task_scores(judged[name]).values()), failures(judged[name])


def test_failing_hypothesis_case_is_reported(judged):
    assert "Failing test case" in judged["loss_no_pad_mask"]["checks"]["task3_reference"]["message"]


def test_vanishing_check_rejects_a_non_recurrent_model(judged):
    """A model that drops the recurrence computes another function: its far gradient, measured on
    its own weights, counts only once its forward equals the reference's."""
    checks = judged["rnn_hidden_reset_every_step"]["checks"]
    assert not checks["task1_reference"]["passed"]
    assert not checks["task1_vanishing"]["passed"] and "counts only when" in checks["task1_vanishing"]["message"]


def test_gated_checks_count_only_with_the_task_solved(judged):
    """A guessable or self-reported check passes only where the task's value checks pass."""
    relu = judged["rnn_relu_cell"]["checks"]
    assert not relu["task1_reference"]["passed"]
    assert not relu["task1_shapes"]["passed"] and "counts only when" in relu["task1_shapes"]["message"]


def test_same_submission_same_result(tmp_path):
    source = apply_edits(BUGGY["eval_counts_pad_tokens"][1])
    first = judge_source(("a", source, str(tmp_path)))[1]
    second = judge_source(("b", source, str(tmp_path)))[1]
    assert first["checks"] == second["checks"]


def test_unreadable_notebooks_get_a_status_that_names_the_problem(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ not json")
    assert "not a valid notebook" in judge_submission(broken, COURSE_KEY)["problems"][0]
    empty = tmp_path / "empty.ipynb"
    empty.write_text('{"cells": [{"cell_type": "markdown", "source": "hi"}], "metadata": {}, "nbformat": 4}')
    assert "no code cell" in judge_submission(empty, COURSE_KEY)["problems"][0]


# -- AUTHORS, read without running the submission -----------------------------------------------

@pytest.mark.parametrize("code, names", [
    ('AUTHORS: list[str] = ["Ada Lovelace (1234567, @ada)", "Alan Turing"]\n',
     ["Ada Lovelace (1234567, @ada)", "Alan Turing"]),
    ('AUTHORS = ("Ada",)\n', ["Ada"]),
    ('AUTHORS = ["first try"]\nAUTHORS = ["Ada", "  ", "Alan"]\n', ["Ada", "Alan"]),  # the last binding, blanks dropped
    ('AUTHORS = ["  Ada\\n\\tLovelace\\x00 "]\n', ["Ada Lovelace"]),  # one line, no control characters
    ('def f():\n    AUTHORS = ["not top level"]\nAUTHORS = ["Ada"]\n', ["Ada"]),
])
def test_authors_are_read_from_a_literal_list(code, names):
    assert submission_authors(code) == (names, "")


@pytest.mark.parametrize("code, note", [
    ("AUTHORS: list[str] = []\n", NO_AUTHORS),
    ('AUTHORS = ["", " "]\n', NO_AUTHORS),
    ("x = 1\n", NO_AUTHORS),
    ('AUTHORS = [n.title() for n in ("ada", "alan")]\n', "plain list of names in quotes"),
    ('AUTHORS = ["Ada", NAME]\n', "plain list of names in quotes"),
    ('AUTHORS = [f"{1}"]\n', "plain list of names in quotes"),
    ('AUTHORS = ["Ada"]\nAUTHORS += ["Alan"]\n', "plain list of names in quotes"),
    ('AUTHORS = ["Ada"]\ndef broken(:\n', "not valid Python"),
])
def test_anything_but_a_literal_list_gives_no_authors_and_a_note(code, note):
    names, got = submission_authors(code)
    assert names == [] and note in got and "no points lost" in got


def test_authors_are_never_executed(tmp_path):
    marker = tmp_path / "ran"
    code = (f"def get_names():\n    open({str(marker)!r}, 'w').write('ran')\n    return ['Mallory']\n"
            "AUTHORS = get_names()\n")
    names, note = submission_authors(code)
    assert names == [] and "plain list" in note and not marker.exists()


def test_hostile_author_strings_are_capped_and_kept_as_text():
    """Formulas and markup stay text here (the outputs quote and escape them); long lists and names are cut."""
    many = ['=HYPERLINK("http://evil")', "<script>x</script>", "B" * 5000] + [f"member {i}" for i in range(30)]
    names, note = submission_authors(f"AUTHORS = {many!r}\n")
    assert names[:2] == many[:2] and len(names) == 10 and "only the first 10" in note
    assert names[2].startswith("BBB") and len(names[2]) <= AUTHOR_CHARS + 10


def test_authors_of_a_notebook_come_from_its_code_cells(tmp_path):
    import nbformat

    notebook = tmp_path / "lab.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('AUTHORS = ["in markdown"]'),
                                                   nbformat.v4.new_code_cell('%matplotlib inline\nAUTHORS = ["Ada"]')]),
                   notebook)
    assert submission_authors(submission_code(notebook)) == (["Ada"], "")


# -- the protocol, without a worker ------------------------------------------------------------

def roundtrip(data: bytes):
    """``data`` read back by the judge's reader (from a file: any size, no writer to wait for)."""
    import tempfile

    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        return protocol.read_message(f.fileno(), timeout=2)


def test_protocol_round_trip_keeps_dtypes_and_shapes():
    arrays = {"x": np.arange(6, dtype=np.int64).reshape(2, 3), "y": np.ones((0, 4), np.float32)}
    header, got = roundtrip(protocol.encode({"op": "forward", "no_grad": True}, arrays))
    assert header == {"op": "forward", "no_grad": True}
    assert all(got[k].dtype == v.dtype and np.array_equal(got[k], v) for k, v in arrays.items())


def frame(header: bytes) -> bytes:
    return len(header).to_bytes(4, "big") + header


@pytest.mark.parametrize("data, why", [
    (b"\xff\xff\xff\xff", "header of"),
    (frame(b"hello"), "not JSON"),
    (frame(b"[]"), "not a JSON object"),
    (protocol.encode({"x": 1})[:-1], "closed"),
    (frame(b'{"arrays": [["x", "object", [1]]]}'), "malformed array"),
    (frame(b'{"arrays": [["x", "float64", [-1]]]}'), "malformed array"),
    (frame(b'{"arrays": [["x", "float64", [99999, 99999]]]}'), "arrays of more than"),
    (frame(b'{"arrays": [["x", "float64", [2]]]}') + b"\x00" * 8, "no reply in time|closed"),
])
def test_protocol_rejects_malformed_messages(data, why):
    with pytest.raises(protocol.ProtocolError, match=why):
        roundtrip(data)


def test_otter_plugin_picks_the_strongest_sandbox_available(tmp_path):
    """Without bwrap on PATH: the user `nobody` where it can run this Python (Docker), else none."""
    import subprocess
    import sys

    from rnnjudge.sandbox import nobody_can_run_python

    env = {"PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run([sys.executable, "-c", "from rnnjudge.sandbox import best_mode; print(best_mode())"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.stdout.strip() == ("user" if nobody_can_run_python() else "none"), proc.stderr


# -- the judge never blocks on, or crashes from, what a worker sends ------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=4), max_leaves=20)
HOSTILE_DIMS = st.one_of(st.integers(-2, 4), st.integers(2**31 - 2, 2**64), st.floats(), st.text(max_size=3),
                         st.none())


def read_or_reject(data: bytes) -> None:
    """The judge's reader on ``data``: a message or a ProtocolError, never anything else."""
    try:
        roundtrip(data)
    except protocol.ProtocolError:
        pass


@FUZZ
@given(st.binary(max_size=400))
def test_reader_turns_any_bytes_into_a_message_or_a_protocol_error(data):
    read_or_reject(data)
    read_or_reject(len(data).to_bytes(4, "big") + data)


@FUZZ
@given(header=st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4),
       specs=st.lists(st.tuples(st.text(max_size=4), st.sampled_from([*protocol.DTYPES, "object", 7]),
                                st.lists(HOSTILE_DIMS, max_size=9)), max_size=3),
       nesting=st.sampled_from([0, 1, 50, 100_000]), tail=st.binary(max_size=64))
def test_reader_rejects_well_formed_headers_with_hostile_values(header, specs, nesting, tail):
    import json

    head = json.dumps({**header, "arrays": [list(s) for s in specs]}).encode()
    head = b"[" * nesting + head + b"]" * nesting
    read_or_reject(len(head).to_bytes(4, "big") + head + tail)


def test_overflowing_shapes_and_deep_nesting_are_protocol_errors():
    for head in (b'{"arrays": [["x", "float64", [2147483647, 2147483647, 2147483647, 2147483647]]]}',
                 b"[" * 200_000 + b"]" * 200_000):
        with pytest.raises(protocol.ProtocolError):
            roundtrip(frame(head))


def test_a_worker_that_stops_reading_costs_its_own_time_limit_only(tmp_path):
    """The judge's write to a worker whose pipe is full gives up at the request's time limit (it
    used to block forever, stopping the whole batch); the worker and its processes are killed."""
    import signal
    import tempfile
    import time

    from rnnjudge.sandbox import Limits
    from rnnjudge.session import WorkerFailure, WorkerSession

    stall = (REPO / "assignment" / "rnn_lm.py").read_text() + (
        "\nimport fcntl, time, __main__\ntry:\n    fcntl.fcntl(0, 1031, 4096)\nexcept OSError:\n    pass\n"
        "__main__.read_message = lambda *args, **kwargs: time.sleep(10**6)\n")
    signal.alarm(120)  # a regression would block here forever: fail instead
    try:
        with tempfile.TemporaryFile() as log:
            worker = WorkerSession(stall, "bwrap", Limits(), log, deadline=time.monotonic() + 60, request_timeout=3)
            start = time.monotonic()
            with pytest.raises(WorkerFailure, match="stopped reading"):
                worker.request("forward", {}, {"x": np.zeros((1 << 20,), np.float64)})
            assert time.monotonic() - start < 10
            assert not worker.alive and worker.proc.poll() is not None
    finally:
        signal.alarm(0)


def test_inputs_come_from_the_course_secret(tmp_path):
    """Same secret: the same grade, byte for byte. Another secret: other hidden inputs (the
    feedback of a buggy submission quotes other numbers)."""
    path = tmp_path / "buggy.py"
    path.write_text(apply_edits(BUGGY["loss_always_sum"][1]))
    first, again = judge_submission(path, COURSE_KEY), judge_submission(path, COURSE_KEY)
    other = judge_submission(path, bytes.fromhex("0123" * 16))
    assert first == again
    assert first["checks"]["task3_reference"]["message"] != other["checks"]["task3_reference"]["message"]
    assert first["secret"] != other["secret"]
