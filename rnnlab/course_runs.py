"""Whether the course's own runs that the release ships still match the lab's configuration.

The release gives students ``seeds.json`` (the claims over 10 seeds, ``make bench-seeds``) and
``sweep.json`` (the distance sweep, ``make sweep``); the notebook compares a student's run with
them. Each records the ``LabConfig`` it was made under. When an instructor changes a default of
``LabConfig`` (the learning rate, the epochs, ...) and does not run them again, the notebook would
compare students' runs with runs of another experiment: ``rnnlab release --check`` fails then,
naming the fields and the command that makes the runs again.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from rnnlab import SOLUTION_DIR

# Fields that say where and how fast a run ran, not which experiment it was.
NOT_THE_EXPERIMENT = ("device", "threads", "bf16", "seed")
COURSE_RUNS = {  # the file in solution/ -> the command that makes it again
    "seeds/seeds.json": "make bench-seeds",
    "sweep/sweep.json": "make sweep",
}


@functools.cache
def course_lab_support():
    """The course's own ``lab_support`` (trusted code, imported once): LabConfig's fields and defaults."""
    if str(SOLUTION_DIR) not in sys.path:
        sys.path.append(str(SOLUTION_DIR))
    import lab_support

    return lab_support


def lab_defaults() -> dict:
    """``LabConfig()``'s fields as the course's ``lab_support`` defines them (JSON's types: lists, not tuples)."""
    return json.loads(json.dumps(course_lab_support().LabConfig().to_dict()))


def stale_course_runs(defaults: dict | None = None, solution: Path = SOLUTION_DIR) -> list[str]:
    """One line per shipped run made under another configuration than ``defaults`` (LabConfig's)."""
    defaults = lab_defaults() if defaults is None else defaults
    problems = []
    for name, command in COURSE_RUNS.items():
        path = solution / name
        try:
            recorded = json.loads(path.read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError):
            problems.append(f"solution/{name} records no configuration: run `{command}`")
            continue
        differ = sorted(field for field in set(defaults) | set(recorded) if field not in NOT_THE_EXPERIMENT
                        and recorded.get(field) != defaults.get(field))
        if differ:
            shown = ", ".join(f"{f} {recorded.get(f)!r} (LabConfig: {defaults.get(f)!r})" for f in differ)
            problems.append(f"solution/{name} was made under another configuration ({shown}): run `{command}`")
    return problems
