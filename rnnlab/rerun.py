"""``rnnlab grade --rerun``: the lab's default experiment re-run on a team's own code, and the numbers
its notebook printed compared with the re-run's.

The notebook is read, never run (``rnnlab.notebook``): its outputs are whatever the file says. A
re-run tells a notebook whose numbers came from this code from one edited by hand or copied from
another team's run. It trains the models as the notebook's printed configuration says, with each
model's precision and CPU threads as the notebook recorded them (``lab_support.ran_as_line``), in
the sandbox and under the limits the judge's worker gets (``rnnlab/rerun_program.py`` runs there;
nothing of the team's runs in this process). The numbers are compared within ``TOLERANCES``.

Where a re-run cannot repeat the team's run (another device, data it cannot read offline, no
record of threads, a run that does not finish in time), it says so and costs nothing.

What it cannot tell: a team's code that recognises the re-run and prints other numbers (it runs in
the same process as the experiment); the comparison then rests on the hidden checks alone.
"""

from __future__ import annotations

import json
import math
import os
import select
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rnnjudge import sandbox
from rnnlab.notebook import DIFFERS, EXPERIMENT_MODELS, NOT_RERUN, REPRODUCED, NotebookReport, Rerun

PROGRAM = Path(__file__).resolve().parent / "rerun_program.py"
LAB_SUPPORT = Path(__file__).resolve().parent.parent / "solution" / "lab_support.py"
MODEL_KEYS = dict(zip(EXPERIMENT_MODELS, ("rnn", "lstm", "lstm_fb1")))  # printed name -> lab_support's
RESULT_BYTES = 1 << 20  # the program's one line of JSON is about 1 KB



@dataclass(frozen=True)
class Tolerance:
    """How far a re-run's number may lie from the printed one and still be the same run."""
    absolute: float = 0.0  # |a - b|
    relative: float = 0.0  # |a - b| / |b|
    factor: float = 1.0  # max(a/b, b/a), for gradients that span orders of magnitude

    def holds(self, printed: float, rerun: float) -> bool:
        if abs(printed - rerun) <= self.absolute + self.relative * abs(rerun):
            return True
        return self.factor > 1 and printed > 0 and rerun > 0 and max(printed / rerun, rerun / printed) <= self.factor


# Chosen from benchmarks/bench_rerun.py (its figures: benchmarks/results/rerun.json). Re-run with
# the thread count and precision the notebook recorded, on the same machine, the lab repeats every
# number exactly. Another machine or PyTorch version rounds differently; the benchmark stands in for
# that by changing the thread count (1 to 2) and the precision (the LSTMs' bfloat16 to float32), and
# each tolerance is about twice the largest move it measured:
# - best validation perplexity: the vanilla RNN's moved 2.3% (its training is chaotic in rounding);
# - the gradient at the name after training: the LSTMs' moved by a factor of 2.1, the RNN's by 110,
#   so in the RNN's row that number only tells a gradient that vanished from one that did not;
# - recall accuracy and the gradient at the name at initialisation (no training yet) hardly moved.
# An edit that changes what the table says (a recall of 0.95 for a model at chance, a perplexity at
# the floor) moves a number by far more.
TOLERANCES = {
    "recall": Tolerance(absolute=0.03),
    "best val ppl": Tolerance(relative=0.05),
    "grad init": Tolerance(relative=0.02),  # before training: only the printed rounding (3 digits)
    "grad trained": Tolerance(relative=0.05, factor=5.0),
}
RNN_TRAINED_GRADIENT = Tolerance(factor=1e5)
SHOWN = {"recall": "{:.3f}", "best val ppl": "{:.2f}", "grad init": "{:.2e}", "grad trained": "{:.2e}"}  # as printed
RERUN_KEYS = {"recall": "recall_accuracy", "best val ppl": "best_valid_ppl", "grad init": "gtt_far_rel_init",
              "grad trained": "gtt_far_rel_final"}  # a compared number -> its key in run_model's numbers


def tolerance_for(model: str, kind: str) -> Tolerance:
    return RNN_TRAINED_GRADIENT if (model, kind) == ("rnn", "grad trained") else TOLERANCES[kind]


def kind_of(column: str) -> str | None:
    """A printed column's kind of number: ``grad@21 trained`` -> ``grad trained``; None if not compared."""
    kind = "grad " + column.rsplit(" ", 1)[-1] if column.startswith("grad@") else column
    return kind if kind in RERUN_KEYS else None


def plan_of(report: NotebookReport) -> tuple[dict | None, str]:
    """What the re-run repeats ({"config", "threads", "bf16"}), or None and why it cannot."""
    run = report.run
    if not all(model in report.numbers for model in EXPERIMENT_MODELS):
        return None, "the notebook printed no results table of the experiment"
    if "config" not in run:
        return None, "the notebook did not print its configuration (print(cfg) above the experiment)"
    config = run["config"]
    if config.get("data") != "embedded":
        return None, f"the run used data={config.get('data')!r}, which the sandbox cannot load (offline)"
    if run.get("device") != "cpu":
        return None, (f"the run was on {run.get('device', 'an unnamed device')!r}: its rounding is not "
                      "the CPU's, so a CPU re-run cannot repeat it")
    ran_as = run.get("ran_as", {})
    if set(ran_as) != set(EXPERIMENT_MODELS) or tuple(config.get("models", ())) != tuple(MODEL_KEYS.values()):
        return None, "the notebook does not say how each model ran (its 'ran as:' line): run the lab's notebook again"
    return {"config": config, "threads": {MODEL_KEYS[m]: ran_as[m][1] for m in ran_as},
            "bf16": {MODEL_KEYS[m]: ran_as[m][0] for m in ran_as}}, ""


def run_in_sandbox(code: str, plan: dict, mode: str, limits: sandbox.Limits, timeout: float, log) -> dict:
    """The program's result: {"models": {name: numbers}} or {"error": ...}; raises TimeoutError."""
    with tempfile.TemporaryDirectory(prefix="rnnlab-rerun-") as folder:
        root = Path(folder)
        shutil.copy(PROGRAM, root / PROGRAM.name)
        shutil.copy(LAB_SUPPORT, root / "lab_support.py")
        (root / "rnn_lm.py").write_text(code, encoding="utf-8")
        plan_text = json.dumps(plan)
        proc, processes = sandbox.start_worker(
            root, mode, limits, log, program=lambda inside: [sys.executable, "-I", "-B", f"{inside}/{PROGRAM.name}",
                                                            inside, plan_text])
        proc.stdin.close()  # the plan is in the command line: nothing more to say
        try:
            output = read_until_closed(proc.stdout.fileno(), time.monotonic() + timeout)
        finally:
            processes.kill_all(proc)
            proc.stdout.close()
    lines = output.decode("utf-8", errors="replace").strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else None
    except ValueError:
        result = None
    if not isinstance(result, dict):
        return {"crashed": "the re-run ended without a result (a crash, or the memory limit)"}
    return result


def read_until_closed(fd: int, deadline: float) -> bytes:
    chunks, size = [], 0
    while size < RESULT_BYTES:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks)[:RESULT_BYTES]


def printed_value(text: str) -> float | None:
    """``23.84 @1100`` -> 23.84; ``3.10e-07`` -> 3.1e-07; anything else None."""
    try:
        value = float(text.split()[0])
    except (ValueError, IndexError):
        return None
    return value if math.isfinite(value) else None


def differences(report: NotebookReport, models: dict) -> list[str]:
    """Each printed number that the re-run's does not match: 'RNN recall: printed 0.900, re-run 0.125'."""
    found = []
    for printed_name, key in MODEL_KEYS.items():
        row, rerun = report.numbers.get(printed_name, {}), models.get(key)
        if not isinstance(rerun, dict):
            found.append(f"{printed_name}: not in the re-run")
            continue
        for column, text in row.items():
            kind = kind_of(column)
            value = rerun.get(RERUN_KEYS[kind]) if kind else None
            if not isinstance(value, (int, float)):
                continue
            printed = printed_value(text)
            if printed is None or not tolerance_for(key, kind).holds(printed, float(value)):
                found.append(f"{printed_name} {column}: printed {text}, re-run {SHOWN[kind].format(value)}")
    return found


def rerun_team(code: str, report: NotebookReport, mode: str, limits: sandbox.Limits, timeout: float, log) -> Rerun:
    plan, why_not = plan_of(report)
    if plan is None:
        return Rerun(NOT_RERUN, why_not)
    try:
        result = run_in_sandbox(code, plan, mode, limits, timeout, log)
    except TimeoutError:
        return Rerun(NOT_RERUN, f"the re-run did not finish in {timeout:.0f}s (give more with --rerun-timeout)")
    if "crashed" in result:
        return Rerun(NOT_RERUN, result["crashed"])
    if "error" in result:  # yet the notebook shows a whole run of it
        return Rerun(DIFFERS, f"this code fails in the re-run ({str(result['error'])[:300]})")
    found = differences(report, result.get("models", {}))
    return Rerun(DIFFERS, "; ".join(found)) if found else Rerun(REPRODUCED)
