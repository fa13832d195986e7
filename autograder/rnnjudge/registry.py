"""The check registry: what each check tests, its task, its weight within the task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import hypothesis
from hypothesis import HealthCheck, Phase, settings

from . import secret


@dataclass(frozen=True)
class Check:
    task: int
    name: str
    description: str
    func: Callable  # func(worker: session.WorkerSession) -> None; raises AssertionError with feedback
    gated: str = ""  # why a hostile worker could pass it ("attested" or "guessable"); "" when it cannot

    @property
    def weight(self) -> float:
        return ATTESTED_WEIGHT if self.gated == ATTESTED else 1.0


# A check passes on what the worker reports about itself (its modules, its .grad, its mode)...
ATTESTED = "attested"
# ...or on answers that could be guessed without the code (shapes, zeros, outputs that agree).
GUESSABLE = "guessable"
ATTESTED_WEIGHT = 0.25  # few points for what only the worker can observe
GATE_MESSAGE = ("counts only when the task's value checks pass (its answers could be guessed or come from "
                "your own process's report)")
CHECKS: dict[str, Check] = {}


def check(task: int, description: str, gated: str = ""):
    def register(func):
        CHECKS[func.__name__] = Check(task, func.__name__, description, func, gated)
        return func
    return register


def checks_for_task(task: int) -> list[Check]:
    return [c for c in CHECKS.values() if c.task == task]


def split_points(task_points: float, weights: dict[str, float]) -> dict[str, float]:
    """A task's points split among its checks (name -> weight) by weight: one rule for the otter
    test files and ``rnnlab grade``."""
    total = sum(weights.values())
    return {name: task_points * w / total for name, w in weights.items()}


# Hypothesis runs in the judge, database-free, seeded from the course secret (``examples``): the
# same examples on every run and machine for one secret, other examples under another.
# No explain phase: it would point students at lines of the judge.
HYPOTHESIS = settings(max_examples=12, deadline=None, database=None, derandomize=False, print_blob=False,
                      suppress_health_check=list(HealthCheck),
                      phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])


def examples(label: str):
    """Decorate a hypothesis test (inside a check) so its examples derive from the course secret."""
    def decorate(test):
        return HYPOTHESIS(hypothesis.seed(secret.seed("hypothesis", label))(test))
    return decorate
