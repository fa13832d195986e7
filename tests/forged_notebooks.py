"""Notebooks whose printed numbers a TA must not take for the team's run, and notebooks and code that
tried to crash ``rnnlab grade --rerun``: the red team's banks of this kind, built from one honest run.

``forged_teams(results, printed)`` -> name -> (rnn_lm.py's text, what the notebook's cells print).
Every team of ``FORGED`` must lose the points of the claims (``numbers differ`` or ``not
confirmed``); every team of ``CRASHES`` must still get a row with a status.
"""

from __future__ import annotations

from pathlib import Path

import student_notebooks as sn
from submission_bank import SOLUTION

REPO = Path(__file__).resolve().parent.parent
SKELETON = (REPO / "assignment" / "rnn_lm.py").read_text()
CLAIMS_CELL = 'print(lab_support.format_claims(results["claims"]))'


def channel_writer(payload: dict) -> str:
    """The skeleton plus generic lines that, under the re-run's program, write ``payload`` on every
    inherited descriptor and exit before anything is trained (the red team's stub)."""
    return SKELETON + f'''
import json as _json, os as _os, sys as _sys
if any("rerun" in _arg for _arg in _sys.argv):
    _line = (_json.dumps({payload!r}) + "\\n").encode()
    for _fd in range(1, 64):
        try:
            _os.write(_fd, _line)
        except OSError:
            pass
    _os._exit(0)
'''


def edited_rnn(printed: dict, results: dict) -> dict:
    """The RNN's recall set to 0.950 and its best perplexity to the floor's, by hand."""
    rnn_row = next(line for line in printed[sn.EXPERIMENT_CELL].splitlines() if line.startswith("RNN "))
    recall = f"{results['models']['rnn']['recall_accuracy']:.3f}"
    ppl = f"{results['models']['rnn']['best_valid_ppl']:.2f}"
    floor = f"{results['valid_floor'] * 1.01:.2f}"
    new_row = rnn_row[: -len(recall)] + "0.950"
    new_row = new_row.replace(ppl, floor.rjust(len(ppl)), 1)
    return {**printed, sn.EXPERIMENT_CELL: printed[sn.EXPERIMENT_CELL].replace(rnn_row, new_row, 1)}


def without_line(text: str, start: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith(start))


def forged_payload(results: dict) -> dict:
    """What the stub writes: the program's format, with the edited notebook's numbers."""
    models = {name: {key: r[key] for key in ("recall_accuracy", "best_valid_ppl", "best_valid_step",
                                             "gtt_far_rel_init", "gtt_far_rel_final", "threads")}
              for name, r in results["models"].items()}
    models["rnn"] = {**models["rnn"], "recall_accuracy": 0.95, "best_valid_ppl": results["valid_floor"] * 1.01}
    return {"models": models, "claims": [{"id": c["id"], "holds": bool(c["holds"])} for c in results["claims"]]}


def forged_teams(results: dict, printed: dict) -> dict[str, tuple[str, dict]]:
    edited = edited_rnn(printed, results)
    table = edited[sn.EXPERIMENT_CELL]
    all_hold = printed[CLAIMS_CELL].replace("FAILS  ", "HOLDS  ")
    assert all_hold != printed[CLAIMS_CELL], "the honest run must fail a claim for this forgery to be one"
    return {
        "edited_by_hand": (SOLUTION, edited),
        "edited_ran_as_deleted": (SOLUTION, {**edited, sn.EXPERIMENT_CELL: without_line(table, "ran as:")}),
        "edited_device_cuda": (SOLUTION, {**edited, sn.EXPERIMENT_CELL: table.replace("device cpu", "device cuda")}),
        "edited_config_deleted": (SOLUTION, {**edited, sn.EXPERIMENT_CELL: without_line(table, "LabConfig(")}),
        "stub_writes_the_numbers": (channel_writer(forged_payload(results)), edited),
        "fails_edited_to_holds": (SOLUTION, {**printed, CLAIMS_CELL: all_hold}),
    }


def crashing_teams(results: dict, printed: dict) -> dict[str, tuple[str, dict]]:
    table = printed[sn.EXPERIMENT_CELL]
    return {
        "config_models_5": (SOLUTION, {**printed, sn.EXPERIMENT_CELL: table.replace(
            "models=('rnn', 'lstm', 'lstm_fb1')", "models=5")}),
        "config_seed_a_set": (SOLUTION, {**printed, sn.EXPERIMENT_CELL: table.replace("seed=0", "seed={1}")}),
        "stub_writes_empty_models": (channel_writer({"models": []}), printed),
        "stub_writes_junk": (channel_writer({"models": {"rnn": [1]}, "claims": "x" * 10}), printed),
    }

