"""The hidden checks, in-process, against the solution, the skeleton and the submission bank."""

import types
from pathlib import Path

import pytest


from rnnlab.autograder_build import load_checks
from rnnlab.tasks import TASKS
from submission_bank import BUGGY, CORRECT, SOLUTION, apply_edits

REPO = Path(__file__).resolve().parent.parent
hidden_checks = load_checks()


def namespace_of(source: str) -> dict:
    module = types.ModuleType("rnn_lm")
    exec(compile(source, "rnn_lm.py", "exec"), module.__dict__)
    return module.__dict__


def task_scores(source: str) -> tuple[dict, dict]:
    results = hidden_checks.run_all(namespace_of(source))
    per_task = {t.number: [ok for name, (ok, _) in results.items() if hidden_checks.CHECKS[name].task == t.number]
                for t in TASKS}
    return {task: sum(oks) / len(oks) for task, oks in per_task.items()}, results


def failures(results) -> str:
    return "\n".join(fb for ok, fb in results.values() if not ok)


def test_every_task_has_checks():
    assert {c.task for c in hidden_checks.CHECKS.values()} == {t.number for t in TASKS}


def test_solution_passes_every_check():
    scores, results = task_scores(SOLUTION)
    assert all(s == 1.0 for s in scores.values()), failures(results)


def test_skeleton_fails_every_check_as_not_implemented():
    scores, results = task_scores((REPO / "assignment" / "rnn_lm.py").read_text())
    assert all(s == 0.0 for s in scores.values())
    assert all(": not implemented (Task " in fb for _, fb in results.values())


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_submission_loses_points_on_its_task_only(name):
    task, edits = BUGGY[name]
    scores, results = task_scores(apply_edits(edits))
    assert scores[task] < 1.0, f"{name} kept full marks on Task {task}"
    others = {t: s for t, s in scores.items() if t != task and s < 1.0}
    assert not others, f"{name} also lost points on {others}:\n{failures(results)}"
    for ok, feedback in results.values():
        if not ok:
            assert "FAILED" in feedback and len(feedback) > 40  # says what was checked and what was wrong


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_alternative_correct_submission_gets_full_marks(name):
    scores, results = task_scores(apply_edits(CORRECT[name]))
    assert all(s == 1.0 for s in scores.values()), failures(results)


def test_same_submission_same_feedback_every_time():
    source = apply_edits(BUGGY["loss_no_pad_mask"][1])
    assert hidden_checks.run_all(namespace_of(source)) == hidden_checks.run_all(namespace_of(source))


def test_failing_hypothesis_case_is_reported():
    _, results = task_scores(apply_edits(BUGGY["loss_no_pad_mask"][1]))
    assert "Failing test case" in results["task3_reference"][1]


def test_vanishing_check_rejects_a_non_recurrent_model():
    """A model that drops the recurrence has no far gradient: it must not pass the comparison."""
    source = apply_edits(BUGGY["rnn_hidden_reset_every_step"][1])
    ok, feedback = hidden_checks.run_check("task1_vanishing", namespace_of(source))
    assert not ok and "not carried" in feedback


def test_tampering_is_detected_in_process():
    import torch
    ns = namespace_of(SOLUTION)
    original = torch.allclose
    torch.allclose = lambda *a, **k: True
    try:
        ok, feedback = hidden_checks.run_check("task1_continuation", ns)
    finally:
        torch.allclose = original
    assert not ok and "torch.allclose" in feedback
    assert hidden_checks.run_check("task1_continuation", ns)[0]
