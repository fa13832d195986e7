"""`rnnlab grade --rerun`: a team's printed numbers against a run the course certifies.

The honest teams' notebooks hold what a real run of the lab's experiment printed (at LAB_QUICK's
size, with 1 and with 2 CPU threads); the others are the red team's (``forged_notebooks``): numbers
edited by hand (and the lines a re-run reads deleted or changed), a stub that writes the edited
numbers on every pipe, claims edited from FAILS to HOLDS, and configurations and outputs meant to
crash the class.
"""

import csv
import subprocess
from pathlib import Path

import pytest

import forged_notebooks as fn
import student_notebooks as sn
from conftest import RUNS_THE_JUDGE
from rnnlab.notebook import DIFFERS, NOT_CONFIRMED, REPRODUCED, report_of_cells
from rnnlab.rerun import TOLERANCES, Tolerance, changed_given_code, lab_config, plan_of, read_result
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
    plan, why_not = plan_of(report_of_cells(notebook_of(printed)))
    assert why_not == "" and plan.exact and plan.config["seed"] == 0 and plan.config["embedded_docs"] == 384
    assert plan.threads == {"rnn": 2, "lstm": 2, "lstm_fb1": 2} and plan.bf16 == results["bf16"]
    assert plan.kinds == ("recall", "best val ppl", "grad init", "grad trained")


@pytest.mark.parametrize("edit, caveat", [
    (lambda text: text.replace("device cpu", "device cuda:0"), "the run was on 'cuda:0'"),
    (lambda text: text.replace("device cpu", "device mps"), "the run was on 'mps'"),
    (lambda text: fn.without_line(text, "ran as:"), "'ran as:'"),
    (lambda text: text.replace("LSTM bf16 x1", "LSTM bf16 x"), "'ran as:'"),
    (lambda text: text.replace("LSTM bf16 x1", "LSTM bf16 x999"), "more CPU threads than this machine's"),
])
def test_a_dodge_is_still_run_on_the_cpu_and_compared_on_what_rounding_does_not_move(honest_runs, edit, caveat):
    _, printed = honest_runs[1]
    plan, why_not = plan_of(report_of_cells(notebook_of({**printed, EXPERIMENT_CELL: edit(printed[EXPERIMENT_CELL])})))
    assert why_not == "" and not plan.exact and caveat in plan.caveat
    assert plan.kinds == ("recall", "best val ppl") and plan.threads == {"rnn": 1, "lstm": 1, "lstm_fb1": 1}


@pytest.mark.parametrize("edit, why", [
    (lambda text: text.replace("data='embedded'", "data='wikitext'"), "data='wikitext'"),
    (lambda text: fn.without_line(text, "LabConfig("), "print(cfg)"),
    (lambda text: text.replace("LabConfig(data=", "LabConfig(__import__('os').system('x'), data="), "print(cfg)"),
    (lambda text: text.replace("models=('rnn', 'lstm', 'lstm_fb1')", "models=5"), "models=5"),
    (lambda text: text.replace("seed=0", "seed={1}"), "seed={1}"),
    (lambda text: text.replace("seed=0", "seed=True"), "seed=True"),
    (lambda text: text.replace("seed=0", "sneed=0"), "'sneed'"),
    (lambda text: text.replace("hidden_dim=32", "hidden_dim=100000"), "hidden_dim=100000"),
    (lambda text: text.replace("models=('rnn', 'lstm', 'lstm_fb1')", "models=('rnn',)"), "not the lab's three"),
])
def test_a_configuration_the_course_does_not_run_is_refused_with_its_reason(honest_runs, edit, why):
    _, printed = honest_runs[1]
    plan, why_not = plan_of(report_of_cells(notebook_of({**printed, EXPERIMENT_CELL: edit(printed[EXPERIMENT_CELL])})))
    assert plan is None and why in why_not, why_not


def test_lab_config_takes_the_lab_s_own_values():
    config, why_not = lab_config({"seed": 3, "lr": 1, "clip": None, "bf16": False, "stride": 15})
    assert why_not == "" and config["seed"] == 3 and config["device"] == "cpu" and config["lr"] == 1


@pytest.mark.parametrize("result, why", [
    ({"models": []}, "no models or claims"),
    ({"models": {}, "claims": []}, "no numbers for rnn"),
    ({"models": {"rnn": {"recall_accuracy": "0.9"}}, "claims": []}, "no number recall_accuracy for rnn"),
    ({"error": "ValueError: x"}, "the code fails in the experiment (ValueError: x)"),
    ({"crashed": "no result"}, "no result"),
])
def test_whatever_a_run_writes_is_read_as_data(result, why):
    assert why in read_result(result).failed


def test_the_given_code_a_file_changed_is_named():
    assert changed_given_code(SOLUTION) == [] and changed_given_code(fn.SKELETON) == []
    reworded = SOLUTION.replace('"""Given: make an LSTM\'s forget gates', '"""Make the forget gates', 1)
    assert reworded != SOLUTION and changed_given_code(reworded) == []  # a docstring is not code
    faster = SOLUTION.replace("lr_decay", "lr_fall")
    assert faster != SOLUTION and "train_model" in changed_given_code(faster)
    assert changed_given_code("def (") == ["the whole file (it does not parse)"]


def test_tolerances_take_rounding_and_reject_an_edit():
    assert TOLERANCES["best val ppl"].holds(24.21, 24.2149) and not TOLERANCES["best val ppl"].holds(24.21, 26.0)
    assert TOLERANCES["recall"].holds(0.125, 0.1302) and not TOLERANCES["recall"].holds(0.95, 0.125)
    assert Tolerance(factor=3.0).holds(1e-3, 2.9e-3) and not Tolerance(factor=3.0).holds(1e-3, 4e-3)
    assert not Tolerance(factor=3.0).holds(0.0, 1e-3)


@RUNS_THE_JUDGE
def test_one_class_holds_every_forgery_and_crash_beside_honest_teams(honest_runs, tmp_path):
    """The red team's banks graded with --rerun all in one class: every forged team loses the points
    of the claims, every team has a row, the honest ones (also in another code style) keep 5/5."""
    folder, out = tmp_path / "class", tmp_path / "out"
    results, printed = honest_runs[1]
    honest = {
        "honest_1_thread": (SOLUTION, printed),
        "honest_2_threads": (SOLUTION, honest_runs[2][1]),
        # the same run's numbers: the lab's build_model draws the start weights in one order
        "honest_created_in_another_order": (apply_edits(CORRECT["parameters_created_in_another_order"]), printed),
    }
    buggy = {"code_cannot_run": (SOLUTION.replace("        return self.fc(hs), h", "        raise ValueError('x')"),
                                 printed)}
    forged, crashes = fn.forged_teams(results, printed), fn.crashing_teams(results, printed)
    for name, (code, cells) in {**honest, **buggy, **forged, **crashes}.items():
        (folder / name).mkdir(parents=True)
        (folder / name / "rnn_lm.py").write_text(code)
        sn.write(sn.answered(sn.run(sn.template(), printed=cells)), folder / name)
    proc = subprocess.run([*RNNLAB, "grade", str(folder), "--out", str(out), "--rerun", "all", "--no-progress",
                           "--no-similarity"], capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "final_grades.csv") as f:
        grades = {r["file"].split("/")[0]: r for r in csv.DictReader(f)}
    assert set(grades) == {*honest, *buggy, *forged, *crashes}
    status = {name: row["notebook_status"] for name, row in grades.items()}
    for name in honest:
        assert REPRODUCED + " by the course's own run" in status[name] and float(grades[name]["notebook"]) == NOTEBOOK_POINTS
    for name in {*buggy, *forged, *crashes}:
        assert REPRODUCED not in status[name], (name, status[name])
        assert float(grades[name]["notebook"]) == NOTEBOOK_POINTS - CLAIMS_POINTS, (name, status[name])
    rnn_recall = f"{results['models']['rnn']['recall_accuracy']:.3f}"
    for name in ("edited_by_hand", "edited_ran_as_deleted", "edited_device_cuda"):
        assert DIFFERS + ": against the course's own run" in status[name], status[name]
        assert f"RNN recall: printed 0.950, run {rnn_recall}" in status[name], status[name]
    assert "'ran as:' line): compared on recall, best perplexity and the claims" in status["edited_ran_as_deleted"]
    assert "printed HOLDS, the run FAILS" in status["fails_edited_to_holds"]
    assert NOT_CONFIRMED + ": the notebook did not print its configuration" in status["edited_config_deleted"]
    assert (NOT_CONFIRMED + ": the judge did not give full marks to Task 1 (VanillaRNNLM)") in status["stub_writes_the_numbers"]
    assert "the code fails in the experiment (ValueError: x)" in status["code_cannot_run"]
    assert "models=5" in status["config_models_5"] and "seed={1}" in status["config_seed_a_set"]
    assert "no models or claims" in status["stub_writes_empty_models"]
    report = (out / "report.html").read_text()
    assert "3 reproduced, 4 differ, 7 not confirmed" in report
    assert "Notebooks the re-run did not confirm" in report and "stub_writes_the_numbers" in report
    feedback = (out / "teams" / "edited_by_hand" / "feedback.txt").read_text()
    assert "numbers differ: against the course's own run: RNN recall: printed 0.950" in feedback


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
