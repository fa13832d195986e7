"""A red team's harvest: the feedback says "got X, expected Y", so a stub that answers each question
with a hash of it learns, submission after submission, the table of answers. As graded, the hidden
inputs derive from the submission's own code too, so the table never answers the next file's
questions; with inputs from the course secret alone (the control), four rounds earn Task 5."""

import json
import re
from pathlib import Path

import pytest

from attack_bank import SKELETON
from conftest import COURSE_KEY, RUNS_THE_JUDGE
from rnnjudge.judge import judge_submission

pytestmark = RUNS_THE_JUDGE

TASK5 = ("task5_reference", "task5_each_call_on_its_own", "task5_edge_cases", "task5_grads_untouched")
ROUNDS = 5  # task5_reference asks four questions one after the other: one learned a round, then passed


def oracle(answers: dict[str, float]) -> str:
    """The skeleton whose Task 5 looks its question (a hash of the gradients) up in ``answers``,
    and otherwise answers the hash itself, which the feedback then pairs with the expected value."""
    return SKELETON.replace('    raise NotImplementedError("Task 5: implement l2_grad_norm_recurrent")', f'''    import hashlib
    answers = {json.dumps(answers)}
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        h.update(name.encode())
        if p.grad is not None:
            h.update(p.grad.detach().cpu().numpy().tobytes())
    key = str(int(h.hexdigest()[:8], 16))
    return float(answers.get(key, float(key)))''')


def harvest(tmp_path: Path, per_submission: bool) -> list[int]:
    """Task 5 checks passed in each round, the answers learned so far in the code."""
    answers: dict[str, float] = {}
    passed = []
    for round_ in range(ROUNDS):
        path = tmp_path / f"round{round_}.py"
        path.write_text(oracle(answers))
        result = judge_submission(path, COURSE_KEY, mode="bwrap", timeout=120, inputs_per_submission=per_submission)
        checks = [result["checks"][name] for name in TASK5]
        passed.append(sum(c["passed"] for c in checks))
        for c in checks:
            for got, want in re.findall(r"got (\d+)(?:\.0+)?, expected ([\d.]+)", c["message"]):
                answers[got] = float(want)
            for got in re.findall(r"(?:should be 0\.0|has norm 0\.0), got (\d+)", c["message"]):
                answers[got] = 0.0
    return passed


def test_answers_harvested_from_feedback_answer_nothing(tmp_path):
    assert harvest(tmp_path, per_submission=True) == [0] * ROUNDS


def test_control_the_harvest_works_where_inputs_come_from_the_secret_alone(tmp_path):
    passed = harvest(tmp_path, per_submission=False)
    assert passed[-1] == len(TASK5), passed
