"""``rnnlab grade --rerun`` as a judge of notebooks: how often it calls an honest notebook unconfirmed
(false alarms, goal 0) and how often it lets a forged one through (goal: never), and what it costs.

    python benchmarks/bench_forgery.py [--size quick|default] [--seeds N] [--variants N]

Honest notebooks: the lab's experiment run for real on seeds 0..N-1, with 1 and 2 CPU threads, in
the lab's precision (bfloat16 LSTMs where the CPU has it) and in float32, each checked as printed and
with its ``ran as:`` line deleted (as a notebook run on a GPU or an older one is: compared on recall,
best perplexity and the claims, run again with other threads and precision); then one honest run on
every correct variant of ``tests/submission_bank.py`` (other code styles, same maths), each run on
its own code in a process of its own. Each must be "numbers reproduced" against the course's run.
Forged notebooks: the red team's bank (``tests/forged_notebooks.py``) built from every honest run of
the solution: each must lose the points. Every verdict goes through ``rnnlab.rerun.rerun_team`` with
the course's runs shared, as ``rnnlab grade --rerun all`` does; a correct file's judge verdict is
taken as full marks (``tests/test_correct_bank.py`` holds that), a stub's as none.

The cost: every course run's seconds (each a distinct configuration), and one team's own code run
in the sandbox. Run it alone for the seconds to mean anything.
Writes benchmarks/results/forgery.json (``--size quick``: forgery_quick.json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "solution"), str(REPO / "autograder"), str(REPO), str(REPO / "tests"),
                str(REPO / "benchmarks")]

import lab_support  # noqa: E402
import forged_notebooks  # noqa: E402
import student_notebooks  # noqa: E402
from docs_figures import machine, write_results  # noqa: E402
from rnnjudge.sandbox import Limits, bwrap_problem  # noqa: E402
from rnnlab.notebook import REPRODUCED, report_of_cells  # noqa: E402
from rnnlab.rerun import CourseRuns, plan_of, rerun_team, run_or_why  # noqa: E402
from rnnlab.tasks import TASKS  # noqa: E402
from submission_bank import CORRECT, SOLUTION, apply_edits  # noqa: E402

EVERY_TASK = [f"Task {t.number} ({t.title})" for t in TASKS]  # what the judge gives a stub: nothing
PRINT_RUN = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[3]]  # the variant's rnn_lm.py first, then tests/ (student_notebooks)
import lab_support, student_notebooks
cfg = lab_support.LabConfig(**json.loads(sys.argv[2]))
print(json.dumps(student_notebooks.experiment_printed(cfg, lab_support.run_experiment(cfg, progress=False))))
"""


def report_of(printed: dict[str, str]):
    return report_of_cells(student_notebooks.run(student_notebooks.template(), printed=printed).cells)


def run_own_code(code: str, config: dict) -> dict[str, str]:
    """What a notebook prints after the experiment ran on ``code`` (another process: its own rnn_lm)."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "rnn_lm.py").write_text(code)
        (Path(folder) / "lab_support.py").write_text((REPO / "solution" / "lab_support.py").read_text())
        out = subprocess.run([sys.executable, "-c", PRINT_RUN, folder, json.dumps(config), str(REPO / "tests")],
                             capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("quick", "default"), default="default",
                        help="the experiment's size: LAB_QUICK's (seconds a run) or the lab's (about a minute)")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--variants", type=int, default=len(CORRECT),
                        help="how many of the correct variants (in the bank's order; default: all)")
    args = parser.parse_args()
    measured_on = machine()
    size = student_notebooks.QUICK if args.size == "quick" else {}
    mode = "bwrap" if bwrap_problem() is None else "none"
    limits = Limits(memory_mb=4096, cpu_seconds=3600)
    course_runs = CourseRuns(mode, limits, 3600)
    course_seconds: list[float] = []

    def verdict(code: str, printed: dict[str, str], not_accepted: list[str]):
        report = report_of(printed)
        runs_before, start = len(course_runs), time.perf_counter()
        with tempfile.TemporaryFile() as log:
            result = rerun_team(code, report, not_accepted, course_runs, mode, limits, 3600, log)
        if len(course_runs) > runs_before:  # this verdict started a course run: its cost
            course_seconds.append(time.perf_counter() - start)
        return result

    honest, forged = [], []

    def record(kind: list, name: str, result, want_reproduced: bool) -> None:
        ok = (result.state == REPRODUCED) == want_reproduced
        kind.append({"name": name, "state": result.state, "detail": result.detail[:300], "ok": ok})
        print(f"{'ok ' if ok else 'BAD'} {name}: {result.line[:160]}", flush=True)

    for seed in range(args.seeds):
        for threads in (1, 2):
            for precision, bf16 in (("lab's precision", None), ("float32", False)):
                cfg = lab_support.LabConfig(**size, seed=seed, threads=threads, bf16=bf16)
                results = lab_support.run_experiment(cfg, progress=False)
                printed = student_notebooks.experiment_printed(cfg, results)
                name = f"seed {seed}, {threads} thread{'s' if threads > 1 else ''}, {precision}"
                record(honest, name, verdict(SOLUTION, printed, []), True)
                table = printed[student_notebooks.EXPERIMENT_CELL]
                record(honest, name + ", 'ran as:' deleted", verdict(
                    SOLUTION, {**printed, student_notebooks.EXPERIMENT_CELL: forged_notebooks.without_line(
                        table, "ran as:")}, []), True)
                for forgery, (code, cells) in forged_notebooks.forged_teams(results, printed).items():
                    not_accepted = EVERY_TASK if code != SOLUTION else []
                    record(forged, f"{name}: {forgery}", verdict(code, cells, not_accepted), False)
    style_config = {**size, "seed": 0, "threads": 1}
    for variant, edits in list(CORRECT.items())[:args.variants]:
        code = apply_edits(edits)
        record(honest, f"correct variant {variant}", verdict(code, run_own_code(code, style_config), []), True)

    # One team's own code in the sandbox, as a team the judge did not fully accept costs.
    cfg = lab_support.LabConfig(**size, seed=0, threads=1)
    plan, _ = plan_of(report_of(student_notebooks.experiment_printed(cfg, lab_support.run_experiment(
        cfg, progress=False))))
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        own = run_or_why(SOLUTION, plan, mode, limits, 3600, log)
    own_seconds = time.perf_counter() - start
    assert not own.failed, own.failed

    false_alarms = sum(not h["ok"] for h in honest)
    missed = sum(not f["ok"] for f in forged)
    course_mean = sum(course_seconds) / len(course_seconds)
    print(f"\nhonest notebooks called unconfirmed: {false_alarms} of {len(honest)}; forged notebooks let through: "
          f"{missed} of {len(forged)}")
    print(f"course runs: {len(course_seconds)}, {min(course_seconds):.1f}-{max(course_seconds):.1f} s each; "
          f"a team's own code in the sandbox ({mode}): {own_seconds:.1f} s")
    path = write_results("forgery" if args.size == "default" else "forgery_quick", {
        "size": args.size, "mode": mode, "seeds": args.seeds, "honest": honest, "forged": forged,
        "false_alarms": false_alarms, "missed": missed, "course_run_seconds": course_seconds,
        "own_code_seconds": own_seconds}, measured_on)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
