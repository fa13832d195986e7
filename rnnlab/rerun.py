"""``rnnlab grade --rerun``: the numbers and claims a team's notebook printed, against a run the course
certifies itself.

The notebook is read, never run (``rnnlab.notebook``): its outputs are whatever the file says. The
contest-judge rule decides who may measure: a number is certified only when the course's own code
measured it. So:

- **Certified run.** Where the judge gave the team's code full marks on every task the experiment
  uses, and the file's given code (``train_model``, the data pipeline, ...) is the lab's own, that
  code computes what the reference computes on the judge's secret inputs, and the lab's
  ``build_model`` draws the same start weights whatever order the file creates its modules in. The
  course then runs the experiment itself, with the reference solution and the course's
  ``lab_support``, as the notebook's printed configuration says (``rerun_program.py``; no code of
  the team's runs in it), once per distinct configuration for the whole class. The notebook's
  numbers and each claim's HOLDS/FAILS are compared with that run's: "numbers reproduced" or
  "numbers differ".
- **Anything else is at most "not confirmed".** Code the judge did not fully accept ran another
  experiment: its honest numbers must never be called forged, and nothing the course can run
  repeats them. That code is re-run in the sandbox (as the judge's worker is) and its answer is
  only a claim of the team's process: "consistent with a re-run of this code" or "differs from a
  re-run of this code", both "not confirmed", for the TA to weigh.

Only "numbers reproduced" keeps the notebook's points for the claims and the results table.

How exactly the printed numbers are compared (``TOLERANCES``): a notebook that recorded how each
model ran on the CPU (its ``ran as:`` line: precision and threads) is repeated in that precision
and with those threads, and every number is compared. One that did not (the line deleted, a GPU,
MPS) is still run, on the CPU, and compared on the numbers that rounding hardly moves: recall
accuracy and best validation perplexity, with the claims.

Whatever a notebook prints and whatever a team's process writes, each team gets a ``Rerun``: a
config that is not LabConfig's is refused with the reason, a re-run's output is read as data and
checked field by field.
"""

from __future__ import annotations

import ast
import concurrent.futures
import functools
import json
import math
import os
import select
import shutil
import sys
import tempfile
import threading
import time
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from rnnjudge import sandbox
from rnnlab import SOLUTION_DIR
from rnnlab.course_runs import course_lab_support
from rnnlab.notebook import DIFFERS, EXPERIMENT_MODELS, NOT_CONFIRMED, REPRODUCED, NotebookReport, Rerun

PROGRAM = Path(__file__).resolve().parent / "rerun_program.py"
LAB_SUPPORT = SOLUTION_DIR / "lab_support.py"
REFERENCE = SOLUTION_DIR / "rnn_lm.py"
MODEL_KEYS = dict(zip(EXPERIMENT_MODELS, ("rnn", "lstm", "lstm_fb1")))  # printed name -> lab_support's
RESULT_BYTES = 1 << 20  # the program's one line of JSON is about 1 KB
COURSE_RUN = "the course's own run"  # what a certified comparison is against
OWN_CODE_RUN = "a re-run of this code in its sandbox"  # ... and what the other is against
# Sizes no larger than the lab's default: a printed configuration costs a re-run at most the default
# experiment's time (each run stays bounded by --rerun-timeout too).
SIZES = ("embedded_docs", "embedded_valid_docs", "max_train_lines", "max_valid_lines", "vocab_size", "seq_len",
         "emb_dim", "hidden_dim", "epochs")
MAX_BATCH_FACTOR = 4  # batch_size at most this many times the lab's


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
ROUNDING_FREE = ("recall", "best val ppl")  # what a run of unknown precision and threads is compared on
SHOWN = {"recall": "{:.3f}", "best val ppl": "{:.2f}", "grad init": "{:.2e}", "grad trained": "{:.2e}"}  # as printed
RERUN_KEYS = {"recall": "recall_accuracy", "best val ppl": "best_valid_ppl", "grad init": "gtt_far_rel_init",
              "grad trained": "gtt_far_rel_final"}  # a compared number -> its key in run_model's numbers


def tolerance_for(model: str, kind: str) -> Tolerance:
    return RNN_TRAINED_GRADIENT if (model, kind) == ("rnn", "grad trained") else TOLERANCES[kind]


def kind_of(column: str) -> str | None:
    """A printed column's kind of number: ``grad@21 trained`` -> ``grad trained``; None if not compared."""
    kind = "grad " + column.rsplit(" ", 1)[-1] if column.startswith("grad@") else column
    return kind if kind in RERUN_KEYS else None


@dataclass(frozen=True)
class Plan:
    """What a run repeats: LabConfig's fields, and each model's CPU threads and precision (None: the lab's
    own choice); ``exact``: as the notebook recorded them (every number compared), else the rounding-free ones."""
    config: dict
    threads: dict[str, int]
    bf16: dict[str, bool | None]
    exact: bool
    caveat: str = ""  # why not exact

    @property
    def key(self) -> str:
        """The same key for the same run: one course run serves every team with this plan."""
        return json.dumps({"config": self.config, "threads": self.threads, "bf16": self.bf16}, sort_keys=True)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(RERUN_KEYS) if self.exact else ROUNDING_FREE


def fits(value, hint) -> bool:
    """Whether a printed literal is of LabConfig's annotated type (bool is not an int here)."""
    if hint is type(None):
        return value is None
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(fits(value, arg) for arg in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return isinstance(value, (tuple, list)) and len(value) <= 10 and all(isinstance(v, str) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 1 << 31
    return hint in (bool, str) and isinstance(value, hint) and len(str(value)) <= 200


def lab_config(printed: dict) -> tuple[dict | None, str]:
    """The printed configuration as LabConfig's fields (None and why where it is not one this course runs)."""
    lab = course_lab_support()
    hints, default = typing.get_type_hints(lab.LabConfig), lab.LabConfig()
    for name, value in printed.items():
        if name not in hints:
            return None, f"its printed configuration has a field LabConfig has not ({name[:40]!r})"
        if not fits(value, hints[name]):
            return None, f"its printed configuration's {name}={str(value)[:40]} is not LabConfig's kind of value"
    config = {**default.to_dict(), **printed}
    config["models"] = list(config["models"])
    if config["data"] != "embedded":
        return None, f"the run used data={config['data']!r}, which the grader cannot load (offline)"
    if tuple(config["models"]) != tuple(MODEL_KEYS.values()):
        return None, f"the run trained models={config['models']}, not the lab's three ({', '.join(MODEL_KEYS.values())})"
    for name in SIZES:
        if not 1 <= config[name] <= getattr(default, name):
            return None, (f"its {name}={config[name]} is outside what the course re-runs (1 to the lab's "
                          f"{getattr(default, name)})")
    if not 1 <= config["batch_size"] <= MAX_BATCH_FACTOR * default.batch_size:
        return None, f"its batch_size={config['batch_size']} is outside 1 to {MAX_BATCH_FACTOR * default.batch_size}"
    if config["stride"] is not None and not 1 <= config["stride"] <= config["seq_len"]:
        return None, f"its stride={config['stride']} is outside 1 to seq_len"
    return {**config, "device": "cpu", "threads": None}, ""


def plan_of(report: NotebookReport) -> tuple[Plan | None, str]:
    """What the course runs for this notebook, or None and why it cannot."""
    run = report.run
    if not all(model in report.numbers for model in EXPERIMENT_MODELS):
        return None, "the notebook printed no results table of the experiment"
    if not isinstance(run.get("config"), dict):
        return None, "the notebook did not print its configuration (print(cfg) above the experiment)"
    config, why_not = lab_config(run["config"])
    if config is None:
        return None, why_not
    ran_as = run.get("ran_as", {})
    device = run.get("device")
    if device != "cpu":
        caveat = f"the run was on {str(device)[:40]!r}" if device else "the notebook does not name its device"
    elif set(ran_as) != set(EXPERIMENT_MODELS) or not all(t >= 1 for _, t in ran_as.values()):
        caveat = "the notebook does not say how each model ran (its 'ran as:' line)"
    elif max(t for _, t in ran_as.values()) > (os.cpu_count() or 1):
        # More threads than this machine's cores would wait on each other for hours; another thread
        # count moves only the rounding, which the rounding-free comparison allows for.
        caveat = f"it ran with more CPU threads than this machine's {os.cpu_count()} cores"
    else:
        return Plan(config, {MODEL_KEYS[m]: ran_as[m][1] for m in EXPERIMENT_MODELS},
                    {MODEL_KEYS[m]: ran_as[m][0] for m in EXPERIMENT_MODELS}, exact=True), ""
    return Plan(config, {key: 1 for key in MODEL_KEYS.values()}, {key: None for key in MODEL_KEYS.values()},
                exact=False, caveat=caveat + ": compared on recall, best perplexity and the claims"), ""


# ----------------------------------------------------------------------------------------------
# Running the experiment: the course's reference, or a team's code in the sandbox
# ----------------------------------------------------------------------------------------------

def run_program(code: str, plan: Plan, mode: str, limits: sandbox.Limits, timeout: float, log) -> dict:
    """``rerun_program.py`` on ``code`` as ``rnn_lm.py``: its result as data, {"crashed": why} when it
    wrote none; raises TimeoutError."""
    with tempfile.TemporaryDirectory(prefix="rnnlab-rerun-") as folder:
        root = Path(folder)
        shutil.copy(PROGRAM, root / PROGRAM.name)
        shutil.copy(LAB_SUPPORT, root / "lab_support.py")
        (root / "rnn_lm.py").write_text(code, encoding="utf-8")
        plan_text = json.dumps({"config": plan.config, "threads": plan.threads, "bf16": plan.bf16})
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
    except (ValueError, RecursionError):
        result = None
    return result if isinstance(result, dict) else {"crashed": "the run ended without a result (a crash, or the "
                                                               "memory limit)"}


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


@dataclass(frozen=True)
class RunResult:
    """A run's numbers (model -> key -> value) and its claims' verdicts, in the order printed; or why none."""
    models: dict[str, dict[str, float]] | None = None
    claims: tuple[bool, ...] = ()
    failed: str = ""


def read_result(result: dict) -> RunResult:
    """The program's output, checked field by field: whatever a process wrote gives a RunResult."""
    if "crashed" in result:
        return RunResult(failed=str(result["crashed"])[:300])
    if "error" in result:
        return RunResult(failed=f"the code fails in the experiment ({str(result['error'])[:300]})")
    models, claims = result.get("models"), result.get("claims")
    if not isinstance(models, dict) or not isinstance(claims, list):
        return RunResult(failed="the run's result is not the program's (no models or claims)")
    numbers = {}
    for key in MODEL_KEYS.values():
        row = models.get(key)
        if not isinstance(row, dict):
            return RunResult(failed=f"the run's result has no numbers for {key}")
        numbers[key] = {}
        for name in RERUN_KEYS.values():
            value = row.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                return RunResult(failed=f"the run's result has no number {name} for {key}")
            numbers[key][name] = float(value)
    if not all(isinstance(c, dict) and isinstance(c.get("holds"), bool) for c in claims):
        return RunResult(failed="the run's claims are not the program's")
    return RunResult(numbers, tuple(c["holds"] for c in claims))


def run_or_why(code: str, plan: Plan, mode: str, limits: sandbox.Limits, timeout: float, log) -> RunResult:
    try:
        return read_result(run_program(code, plan, mode, limits, timeout, log))
    except TimeoutError:
        return RunResult(failed=f"the run did not finish in {timeout:.0f}s (give more with --rerun-timeout)")


class CourseRuns:
    """The certified runs of one grading: the reference solution run once per distinct plan, whichever
    team asks first; the others wait for it. Nothing of any team's runs in them."""

    def __init__(self, mode: str, limits: sandbox.Limits, timeout: float):
        self.mode, self.limits, self.timeout = mode, limits, timeout
        self.runs: dict[str, concurrent.futures.Future] = {}
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.runs)

    def result(self, plan: Plan) -> RunResult:
        with self.lock:
            future, mine = self.runs.get(plan.key), False
            if future is None:
                future, mine = concurrent.futures.Future(), True
                self.runs[plan.key] = future
        if mine:  # whatever happens, the teams waiting on this run get a result
            try:
                with tempfile.TemporaryFile() as log:
                    result = run_or_why(REFERENCE.read_text(), plan, self.mode, self.limits, self.timeout, log)
            except Exception as err:  # noqa: BLE001 - the grader's own trouble, told to every team of this plan
                result = RunResult(failed=f"grader error: {type(err).__name__}: {err}"[:300])
            future.set_result(result)
        return future.result()


# ----------------------------------------------------------------------------------------------
# What the course can certify, and the comparison
# ----------------------------------------------------------------------------------------------

def without_docstring(node: ast.AST) -> str:
    """A definition's code, its docstrings left out (they do not change what it does)."""
    node = ast.parse(ast.unparse(node))  # a copy
    for each in ast.walk(node):
        body = getattr(each, "body", None)
        if (isinstance(each, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            each.body = body[1:] or [ast.Pass()]
    return ast.dump(node, include_attributes=False)


@functools.cache
def given_definitions() -> dict[str, str]:
    """The reference's top-level functions and classes that are no task of the lab's (name -> code):
    what the experiment runs of a team's file besides the tasks."""
    source = REFERENCE.read_text()
    tree = ast.parse(source)
    lines = source.splitlines()
    given = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            text = "\n".join(lines[node.lineno - 1:node.end_lineno])
            if "BEGIN SOLUTION" not in text:
                given[node.name] = without_docstring(node)
    return given


def changed_given_code(code: str) -> list[str]:
    """The given definitions that a team's file changed or left out (by name)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ["the whole file (it does not parse)"]
    team = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    return [name for name, reference in given_definitions().items()
            if name not in team or without_docstring(team[name]) != reference]


def differences(report: NotebookReport, run: RunResult, kinds: tuple[str, ...]) -> list[str]:
    """Each printed number and claim that the run's does not match: 'RNN recall: printed 0.900, run 0.125'."""
    found = []
    for printed_name, key in MODEL_KEYS.items():
        for column, text in report.numbers.get(printed_name, {}).items():
            kind = kind_of(column)
            if kind not in kinds:
                continue
            value = run.models[key][RERUN_KEYS[kind]]
            printed = printed_value(text)
            if printed is None or not tolerance_for(key, kind).holds(printed, value):
                found.append(f"{printed_name} {column}: printed {text[:40]}, run {SHOWN[kind].format(value)}")
    printed_claims = [holds for holds, _ in report.claims]
    if len(printed_claims) != len(run.claims):
        found.append(f"{len(printed_claims)} claims printed, the run makes {len(run.claims)}")
    for number, ((holds, text), verdict) in enumerate(zip(report.claims, run.claims), start=1):
        if holds != verdict:
            found.append(f"claim {number} ({text[:50]}...): printed {'HOLDS' if holds else 'FAILS'}, "
                         f"the run {'HOLDS' if verdict else 'FAILS'}")
    return found


def printed_value(text: str) -> float | None:
    """``23.84 @1100`` -> 23.84; ``3.10e-07`` -> 3.1e-07; anything else None."""
    try:
        value = float(text.split()[0])
    except (ValueError, IndexError):
        return None
    return value if math.isfinite(value) else None


def rerun_team(code: str, report: NotebookReport, not_accepted: list[str], course_runs: CourseRuns, mode: str,
               limits: sandbox.Limits, timeout: float, log) -> Rerun:
    """The verdict on one team's printed numbers. ``not_accepted``: the tasks the judge did not give
    full marks ("Task 3 (lm_loss)"), empty when it accepted them all."""
    plan, why_not = plan_of(report)
    if plan is None:
        return Rerun(NOT_CONFIRMED, why_not)
    changed = changed_given_code(code)
    caveat = f" ({plan.caveat})" if plan.caveat else ""
    if not not_accepted and not changed:
        run = course_runs.result(plan)
        if run.failed:
            return Rerun(NOT_CONFIRMED, f"{COURSE_RUN} of this configuration failed: {run.failed}")
        found = differences(report, run, plan.kinds)
        return Rerun(DIFFERS, f"against {COURSE_RUN}{caveat}: " + "; ".join(found)) if found else \
            Rerun(REPRODUCED, f"by {COURSE_RUN}{caveat}")
    why_uncertified = ("the judge did not give full marks to " + ", ".join(not_accepted) if not_accepted else
                       "the file changes the lab's given code (" + ", ".join(changed[:4]) + ")")
    run = run_or_why(code, plan, mode, limits, timeout, log)
    if run.failed:
        return Rerun(NOT_CONFIRMED, f"{why_uncertified}, and {OWN_CODE_RUN}: {run.failed}")
    found = differences(report, run, plan.kinds)
    return Rerun(NOT_CONFIRMED, f"{why_uncertified}, so no run of the course's repeats this code's experiment; "
                 + (f"{OWN_CODE_RUN} differs{caveat}: " + "; ".join(found) if found else
                    f"numbers consistent with {OWN_CODE_RUN}{caveat} (what that process reported, not a measurement "
                    "of the course's: for you to weigh)"))
