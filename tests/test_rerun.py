"""`rnnlab grade --rerun`: a team's printed numbers against a re-run of its own code, in the sandbox.

The honest teams' notebooks hold what a real run of the lab's experiment printed (at LAB_QUICK's
size, with 1 and with 2 CPU threads); the others are what a TA must catch: a number edited by hand,
a notebook copied from another team whose code differs, a notebook whose code cannot run.
"""

import csv
import subprocess
from pathlib import Path

import pytest

import student_notebooks as sn
from conftest import RUNS_THE_JUDGE
from rnnlab.notebook import DIFFERS, NOT_RERUN, REPRODUCED, report_of_cells
from rnnlab.rerun import TOLERANCES, Tolerance, plan_of
from rnnlab.tasks import NOTEBOOK_CHECKS, NOTEBOOK_POINTS
from submission_bank import CORRECT, SOLUTION, apply_edits

REPO = Path(__file__).resolve().parent.parent
RNNLAB = [str(REPO / ".venv" / "bin" / "rnnlab")] if (REPO / ".venv" / "bin" / "rnnlab").exists() else ["rnnlab"]
EXPERIMENT_CELL = sn.EXPERIMENT_CELL
CLAIMS_POINTS = next(c.points for c in NOTEBOOK_CHECKS if c.key == "claims_printed")


def notebook_of(printed: dict[str, str]) -> list[dict]:
    return sn.answered(sn.run(sn.template(), printed=printed)).cells


@pytest.fixture(scope="module")
def honest_runs():
    return {threads: sn.printed_run(threads) for threads in (1, 2)}


def test_the_notebook_records_what_a_rerun_repeats(honest_runs):
    results, printed = honest_runs[2]
    report = report_of_cells(notebook_of(printed))
    plan, why_not = plan_of(report)
    assert why_not == "" and plan["config"]["seed"] == 0 and plan["config"]["embedded_docs"] == 384
    assert plan["threads"] == {"rnn": 2, "lstm": 2, "lstm_fb1": 2}
    assert plan["bf16"] == results["bf16"]


@pytest.mark.parametrize("edit, why", [
    (lambda text: text.replace("device cpu", "device cuda:0"), "'cuda:0'"),
    (lambda text: text.replace("data='embedded'", "data='wikitext'"), "data='wikitext'"),
    (lambda text: "\n".join(line for line in text.splitlines() if not line.startswith("ran as:")), "'ran as:'"),
    (lambda text: "\n".join(line for line in text.splitlines() if not line.startswith("LabConfig(")), "print(cfg)"),
    (lambda text: text.replace("LabConfig(data=", "LabConfig(__import__('os').system('x'), data="), "print(cfg)"),
])
def test_a_run_that_cannot_be_repeated_here_is_not_rerun_and_says_why(honest_runs, edit, why):
    _, printed = honest_runs[1]
    report = report_of_cells(notebook_of({**printed, EXPERIMENT_CELL: edit(printed[EXPERIMENT_CELL])}))
    plan, why_not = plan_of(report)
    assert plan is None and why in why_not


def test_tolerances_take_rounding_and_reject_an_edit():
    assert TOLERANCES["best val ppl"].holds(24.21, 24.2149) and not TOLERANCES["best val ppl"].holds(24.21, 26.0)
    assert TOLERANCES["recall"].holds(0.125, 0.1302) and not TOLERANCES["recall"].holds(0.95, 0.125)
    assert Tolerance(factor=3.0).holds(1e-3, 2.9e-3) and not Tolerance(factor=3.0).holds(1e-3, 4e-3)
    assert not Tolerance(factor=3.0).holds(0.0, 1e-3)


@RUNS_THE_JUDGE
def test_rerun_flags_an_edited_and_a_copied_notebook_and_not_an_honest_one(honest_runs, tmp_path):
    folder, out = tmp_path / "class", tmp_path / "out"
    results, printed = honest_runs[1]
    rnn_recall = f"{results['models']['rnn']['recall_accuracy']:.3f}"
    rnn_row = next(line for line in printed[EXPERIMENT_CELL].splitlines() if line.startswith("RNN "))
    edited_table = printed[EXPERIMENT_CELL].replace(rnn_row, rnn_row[: -len(rnn_recall)] + "0.950", 1)
    teams = {
        "honest_1_thread": (SOLUTION, printed),
        "honest_2_threads": (SOLUTION, honest_runs[2][1]),
        "copied_from_honest": (apply_edits(CORRECT["parameters_created_in_another_order"]), printed),  # other init
        "edited_by_hand": (SOLUTION, {**printed, EXPERIMENT_CELL: edited_table}),
        "code_cannot_run": (SOLUTION.replace("        return self.fc(hs), h", "        raise ValueError('x')"), printed),
        "ran_on_a_gpu": (SOLUTION, {**printed, EXPERIMENT_CELL: printed[EXPERIMENT_CELL].replace("device cpu",
                                                                                               "device cuda:0")}),
    }
    for name, (code, cells) in teams.items():
        (folder / name).mkdir(parents=True)
        (folder / name / "rnn_lm.py").write_text(code)
        sn.write(sn.answered(sn.run(sn.template(), printed=cells)), folder / name)
    proc = subprocess.run([*RNNLAB, "grade", str(folder), "--out", str(out), "--rerun", "all", "--no-progress"],
                          capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "final_grades.csv") as f:
        grades = {r["file"].split("/")[0]: r for r in csv.DictReader(f)}
    for name in ("honest_1_thread", "honest_2_threads"):
        assert REPRODUCED in grades[name]["notebook_status"] and float(grades[name]["notebook"]) == NOTEBOOK_POINTS
    assert "RNN grad@21 init: printed" in grades["copied_from_honest"]["notebook_status"]
    assert "RNN recall: printed 0.950, re-run " + rnn_recall in grades["edited_by_hand"]["notebook_status"]
    assert "this code fails in the re-run (ValueError: x)" in grades["code_cannot_run"]["notebook_status"]
    for name in ("copied_from_honest", "edited_by_hand", "code_cannot_run"):
        assert DIFFERS in grades[name]["notebook_status"], grades[name]["notebook_status"]
        assert float(grades[name]["notebook"]) == NOTEBOOK_POINTS - CLAIMS_POINTS
    assert NOT_RERUN in grades["ran_on_a_gpu"]["notebook_status"] and float(grades["ran_on_a_gpu"]["notebook"]) == NOTEBOOK_POINTS
    feedback = (out / "teams" / "edited_by_hand" / "feedback.txt").read_text()
    assert "numbers differ from a re-run of this code: RNN recall: printed 0.950" in feedback
    assert "numbers differ from a re-run of this code" in (out / "answers.html").read_text()
    assert "2 reproduced, 3 differ, 1 not re-run" in (out / "report.html").read_text()


def test_the_tolerances_hold_twice_the_moves_the_benchmark_measured():
    """benchmarks/bench_rerun.py: the same code with another thread count or precision (the stand-in
    for another machine) moved each number by at most half of its tolerance."""
    import json
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_rerun import share_of_tolerance

    measured = json.loads((REPO / "benchmarks" / "results" / "rerun.json").read_text())
    assert measured["size"] == "default"
    shares = {f"{way}: {label}": share_of_tolerance(label.split(" ", 1)[1], label.split(" ", 1)[0], v["this"],
                                                    v["reference"])
              for way, moves in measured["moves"].items() for label, v in moves.items()}
    assert len(shares) == 36 and max(shares.values()) < 0.5, {k: round(v, 2) for k, v in shares.items() if v >= 0.5}
    assert all(v == 0 for k, v in shares.items() if k.startswith("1 thread, again"))  # a re-run repeats exactly
