"""One class holding every attack of the red team's third round at once, beside honest teams: the
class's outputs are written for every team, the correct submissions keep 100, no neighbour slows
another one down or holds more than its memory, a borrowed identity does not reach the gradebook,
a padded copy is flagged, a forged HOLDS is not confirmed (a notebook copied onto correct code of
another style is: the course's run gives those numbers), and no control character reaches a file a
person reads.

Each attack has its own reader-level test elsewhere (test_hostile_notebooks, test_notebook_grading,
test_class_report, test_rerun); this is the class a hostile team would actually sit in.
"""

import csv
import os
import subprocess
import uuid
from pathlib import Path

import nbformat
import pytest

import student_notebooks as sn
from attack_bank import MEMORY_HOG_CHILDREN, MEMORY_HOG_MB, SKELETON, neighbour_attacks
from conftest import RUNS_THE_JUDGE, processes_marked
from rnnjudge.sandbox import RUN_VARIABLE, cgroups_of_run, missing_limits
from rnnjudge.session import CONTROL_CHARACTERS
from rnnlab.notebook import REPRODUCED
from rnnlab.tasks import NOTEBOOK_CHECKS, NOTEBOOK_POINTS, TOTAL_POINTS
from submission_bank import CORRECT, SOLUTION, apply_edits
from test_class_report import dead_code
from test_hostile_notebooks import CLAIM_LINES, ESCAPE, FAILS_LINES, HUGE_MARKER, TABLE_FRAGMENTS

pytestmark = RUNS_THE_JUDGE

REPO = Path(__file__).resolve().parent.parent
RNNLAB = [str(REPO / ".venv" / "bin" / "rnnlab")] if (REPO / ".venv" / "bin" / "rnnlab").exists() else ["rnnlab"]
MARKER = "rnnlab-class-under-attack-5c1e"
MEMORY_MB = 2048  # less than the children's 6 x 500 MB, more than the solution needs
CLAIMS_POINTS = next(c.points for c in NOTEBOOK_CHECKS if c.key == "claims_printed")
HONEST = ("honest", "honest_other_style")
OTHER_STYLE = ("rnn_time_major_loop", "lstm_explicit_zero_state", "loss_boolean_mask", "eval_fsum_of_batch_sums",
               "norm_foreach_norm", "gtt_hook_returns_leaf")
NOTEBOOK_ATTACKS = {"huge_marker": None, "table_fragments": TABLE_FRAGMENTS, "million_claim_lines": CLAIM_LINES,
                    "fails_lines": FAILS_LINES, "escapes": ESCAPE * 1000}


def with_authors(code: str, *names: str) -> str:
    return code.replace("AUTHORS: list[str] = []", f"AUTHORS: list[str] = {list(names)!r}", 1)


def team(folder: Path, name: str, code: str, notebook) -> None:
    sn.write(notebook, folder / name)
    (folder / name / "rnn_lm.py").write_text(code)


@pytest.fixture(scope="module")
def attacked_class(tmp_path_factory):
    folder, out = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("out")
    _, printed = sn.printed_run(threads=1)  # a real run's outputs
    honest_notebook = sn.answered(sn.run(sn.template(), printed=printed))
    honest_code = with_authors(SOLUTION, "Ada Lovelace (1234567, ada@uni.edu)")
    team(folder, "honest", honest_code, honest_notebook)
    other_style = apply_edits([edit for name in OTHER_STYLE for edit in CORRECT[name]])  # code of its own in every task
    team(folder, "honest_other_style", with_authors(other_style, "Alan Turing (7654321, alan@uni.edu)"),
         sn.answered(sn.run(sn.template())))
    # Neighbours: 40 spinning processes; six children of 500 MB each.
    for name, code in neighbour_attacks(MARKER).items():
        team(folder, name, code, sn.answered(sn.run(sn.template())))
    # Notebooks that crashed, hung or bloated the class's outputs in round three.
    for name, text in NOTEBOOK_ATTACKS.items():
        nb = sn.answered(sn.run(sn.template()), {1: HUGE_MARKER if name == "huge_marker" else ESCAPE})
        if text is not None:
            nb.cells[-1] = nbformat.v4.new_code_cell("print()", execution_count=99,
                                                     outputs=[nbformat.v4.new_output("stream", name="stdout", text=text)])
        team(folder, name, SKELETON + f"\nprint({ESCAPE!r})\nraise RuntimeError({ESCAPE!r})\n", nb)
    # One printed HOLDS line instead of the experiment.
    forged = sn.template()
    forged.cells.append(nbformat.v4.new_code_cell("print('HOLDS  everything')", execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="HOLDS  everything\n")]))
    team(folder, "forged_holds", SKELETON, forged)
    # The honest team's notebook under code of its own (another order of creating the parameters).
    team(folder, "copied_notebook", apply_edits(CORRECT["parameters_created_in_another_order"]), honest_notebook)
    # A verbatim copy of the other honest team's code padded with 1,500 lines of dead code, under
    # that team's student's ID and e-mail with a changed name.
    team(folder, "padded_copy", with_authors(other_style, "A. Turing-Smith (7654321, alan@uni.edu)") + "\n\n"
         + dead_code(1500), sn.answered(sn.run(sn.template())))
    run = f"attack{uuid.uuid4().hex[:8]}"
    proc = subprocess.run([*RNNLAB, "grade", str(folder), "--out", str(out), "--workers", "2", "--memory-mb",
                           str(MEMORY_MB), "--rerun", "all", "--gradebook", "canvas", "--no-progress"],
                          capture_output=True, text=True, cwd=REPO, timeout=3000, env={**os.environ, RUN_VARIABLE: run})
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "final_grades.csv") as f:
        rows = {r["file"].split("/")[0]: r for r in csv.DictReader(f)}
    return {"out": out, "rows": rows, "stdout": proc.stdout, "left": processes_marked(MARKER),
            "cgroups": cgroups_of_run(run), "teams": sorted(p.name for p in folder.iterdir())}


def code_points(row) -> float:
    return float(row["total_points_earned"]) - float(row["notebook"])


def test_every_team_gets_every_output_with_no_control_character(attacked_class):
    out = attacked_class["out"]
    assert set(attacked_class["rows"]) == set(attacked_class["teams"])
    for name in attacked_class["teams"]:
        for file in ("results.json", "feedback.txt", "log.txt", "answers.html"):
            assert (out / "teams" / name / file).is_file(), f"teams/{name}/{file} missing"
            assert not CONTROL_CHARACTERS.search((out / "teams" / name / file).read_text(encoding="utf-8")), f"{name}/{file}"
    for file in ("final_grades.csv", "report.html", "class_summary.csv", "similarity.csv", "answers.html",
                 "manual_scores.csv", "gradebook_canvas.csv"):
        assert (out / file).is_file(), file
        assert not CONTROL_CHARACTERS.search((out / file).read_text(encoding="utf-8")), file
    assert (out / "answers.html").stat().st_size < 5 << 20


def test_the_correct_teams_keep_full_marks_and_no_attack_earns_a_code_point(attacked_class):
    rows = attacked_class["rows"]
    for name in HONEST + ("copied_notebook", "padded_copy"):
        assert code_points(rows[name]) == TOTAL_POINTS, (name, rows[name]["grading_status"])
    for name in [*neighbour_attacks(MARKER), *NOTEBOOK_ATTACKS, "forged_holds"]:
        assert code_points(rows[name]) == 0, (name, rows[name]["grading_status"])
    assert attacked_class["left"] == [] and attacked_class["cgroups"] == []


def test_no_neighbour_holds_more_than_its_memory(attacked_class):
    if missing_limits():
        pytest.skip("no cgroup can be made here (root outside a container is needed): memory is limited per "
                    "process only, which the status says")
    log = (attacked_class["out"] / "teams" / "holds_memory_in_children" / "log.txt").read_text()
    held = log.count(f"still holding {MEMORY_HOG_MB} MB")
    assert held * MEMORY_HOG_MB <= MEMORY_MB < MEMORY_HOG_CHILDREN * MEMORY_HOG_MB, held


def test_notebook_points_need_a_run_the_course_certifies(attacked_class):
    rows = attacked_class["rows"]
    assert REPRODUCED in rows["honest"]["notebook_status"] and float(rows["honest"]["notebook"]) == NOTEBOOK_POINTS
    # Correct code of its own under the honest team's notebook: those are the numbers this code gives (the
    # lab's build_model draws the same start weights), certified by the course's run.
    assert REPRODUCED in rows["copied_notebook"]["notebook_status"]
    assert float(rows["copied_notebook"]["notebook"]) == NOTEBOOK_POINTS
    assert "not confirmed: the notebook printed no results table" in rows["forged_holds"]["notebook_status"]
    assert float(rows["forged_holds"]["notebook"]) <= NOTEBOOK_POINTS - CLAIMS_POINTS


def test_the_padded_copy_is_flagged_and_the_borrowed_identity_left_out_of_the_gradebook(attacked_class):
    out = attacked_class["out"]
    with open(out / "similarity.csv") as f:
        pairs = {frozenset((r["file_a"].split("/")[0], r["file_b"].split("/")[0])) for r in csv.DictReader(f)}
    assert frozenset(("honest_other_style", "padded_copy")) in pairs
    with open(out / "gradebook_conflicts.csv") as f:
        conflicts = {r["submission"].split("/")[0] for r in csv.DictReader(f)}
    assert conflicts == {"honest_other_style", "padded_copy"}
    gradebook = (out / "gradebook_canvas.csv").read_text()
    assert "7654321" not in gradebook and "Lovelace" in gradebook
    assert "unverified" in attacked_class["stdout"]
