"""Judge one submission: run every check against a sandboxed worker, return plain results.

    python -m rnnjudge.judge rnn_lm.py --secret course.secret [--sandbox bwrap|user|none] [--timeout 360]

prints the result as JSON. This process never executes, imports or unpickles anything that came
from the submission: it reads the submission's text (and the team's names in ``AUTHORS`` from its
syntax tree), hands it to the worker, and judges the plain data that comes back (``session``)
against its own references (``checks``).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from . import checks  # noqa: F401 - registers the checks
from . import sandbox, secret
from .code_reading import hidden_code
from .checks.elsewhere import CannotDecide
from .registry import CHECKS, GATE_MESSAGE, Check
from .sandbox import TIME_BUDGET_S, Limits
from .session import NotImplementedInSubmission, OutOfTime, WorkerFailure, WorkerSession, printable, untrusted_text

LOG_TAIL_BYTES = 20_000
MAX_CODE_BYTES = 256 << 10  # the solution is 21 KB; parsing a file costs ~500 bytes of memory per byte
MAX_NOTEBOOK_BYTES = 32 << 20  # a notebook saved with its outputs (figures) is a few MB
AUTHORS_SHOWN = 10  # names kept of a submission's AUTHORS
AUTHOR_CHARS = 120  # characters kept of each name
NO_AUTHORS = "no authors named in AUTHORS (no points lost)"
UNLIMITED = "not limited per submission here:"
BUILT_AT_RUN_TIME = "runs code built while it runs"  # how a status names it, on every route, as the class report does


class UnreadableSubmission(Exception):
    """The file holds no code the worker could load; the message is the grade's status."""


def is_linked(path: Path) -> bool:
    """A submission that is a symbolic link (or inside a linked folder): a classmate's file or the
    solution under another name. It is never read, graded or compared."""
    return path.is_symlink() or path.parent.is_symlink()


def submission_code(path: Path) -> str:
    """The code of a .py file, or the code cells of a notebook (IPython magics and shell lines dropped).
    Sizes are checked before anything is parsed: this runs in the judge and in the class report."""
    if is_linked(path):
        raise UnreadableSubmission("the submission is a symbolic link, not a file: submit the file itself: no points")
    limit = MAX_NOTEBOOK_BYTES if path.suffix == ".ipynb" else MAX_CODE_BYTES
    if path.stat().st_size > limit:
        raise UnreadableSubmission(f"the file is {path.stat().st_size / 2**20:.1f} MB, more than a submission can be "
                                   f"({limit >> 10} KB): no points")
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    if path.suffix != ".ipynb":
        return text
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError) as err:  # RecursionError: nesting deeper than the parser goes
        raise UnreadableSubmission(f"not a valid notebook ({untrusted_text(str(err) or 'nested too deeply', 120)}): "
                                   "no points") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise UnreadableSubmission("not a valid notebook (no list of cells): no points")
    code = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            src = cell.get("source", "")
            src = "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else str(src)
            code.append("\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))))
    if not any(c.strip() for c in code):
        raise UnreadableSubmission("the notebook has no code cell: no points")
    joined = "\n\n".join(code)
    if len(joined.encode()) > MAX_CODE_BYTES:
        raise UnreadableSubmission(f"the notebook's code is more than a submission can be ({MAX_CODE_BYTES >> 10} KB): "
                                   "no points")
    return joined


def submission_authors(code: str) -> tuple[list[str], str]:
    """The team's names from the submission's top-level ``AUTHORS = [...]``, read from its syntax
    tree: nothing is executed. Returns (names, note); the note says why there are none ("" when
    there are). Only a list or tuple of string literals counts: a call, a variable or a
    comprehension is never evaluated, and reads as no names."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: a null byte
        return [], "AUTHORS not read: the file is not valid Python (no points lost)"
    value = None
    for node in tree.body:  # the last top-level binding wins, as it would when the file runs
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "AUTHORS" for t in node.targets):
            value = node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name) \
                and node.target.id == "AUTHORS" and node.value is not None:
            value = node if isinstance(node, ast.AugAssign) else node.value  # AUTHORS += ... is no literal
    if value is None:
        return [], NO_AUTHORS
    if not (isinstance(value, (ast.List, ast.Tuple))
            and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts)):
        return [], ("AUTHORS not read: it must be a plain list of names in quotes, e.g. ['Ada Lovelace'], "
                    "not computed (no points lost)")
    names = [" ".join("".join(c if c.isprintable() else " " for c in e.value).split()) for e in value.elts]
    names = [untrusted_text(name, AUTHOR_CHARS) for name in names if name]
    if not names:
        return [], NO_AUTHORS
    if len(names) > AUTHORS_SHOWN:
        return names[:AUTHORS_SHOWN], f"AUTHORS names {len(names)} people: only the first {AUTHORS_SHOWN} are kept"
    return names, ""


def describe_failure(err: BaseException) -> str:
    if isinstance(err, BaseExceptionGroup):  # hypothesis: several distinct failures; the first says enough
        return describe_failure(err.exceptions[0])
    notes = getattr(err, "__notes__", [])
    msg = str(err).strip() or type(err).__name__
    if not isinstance(err, AssertionError):
        msg = f"{type(err).__name__}: {msg}"
    return "\n".join([msg, *notes])


def first_not_implemented(err: BaseException) -> NotImplementedInSubmission | None:
    if isinstance(err, NotImplementedInSubmission):
        return err
    if isinstance(err, BaseExceptionGroup):
        return next(filter(None, map(first_not_implemented, err.exceptions)), None)
    return None


def outcome(chk: Check, passed: bool, message: str = "", not_implemented: bool = False) -> dict:
    if passed and message:  # passed without a verdict: the check could not run (elsewhere.CannotDecide)
        feedback = f"{chk.description}: not checked, no points lost ({message})."
    elif passed:
        feedback = f"{chk.description}: passed."
    elif not_implemented:
        feedback = f"{chk.description}: not implemented ({message})."
    else:
        feedback = f"{chk.description}: FAILED.\n{message}"
    return {"task": chk.task, "passed": passed, "description": chk.description, "message": message,
            "feedback": feedback, "weight": chk.weight, "gated": chk.gated}


def apply_gates(outcomes: dict) -> None:
    """A gated check counts only when every value check of its task passed: a worker can fake its
    report or guess its answers, but not the values of a task it has not solved."""
    for name, result in outcomes.items():
        chk = CHECKS[name]
        solved = all(o["passed"] for n, o in outcomes.items() if CHECKS[n].task == chk.task and not CHECKS[n].gated)
        if chk.gated and result["passed"] and not solved:
            outcomes[name] = outcome(chk, False, GATE_MESSAGE)


def run_check(chk: Check, worker: WorkerSession) -> dict:
    try:
        worker.begin_check()
        chk.func(worker)
        return outcome(chk, True)
    except CannotDecide as err:
        return outcome(chk, True, str(err))
    except OutOfTime:
        raise
    except BaseException as err:  # noqa: BLE001 - every failure becomes feedback
        if isinstance(err, BaseExceptionGroup) and any(isinstance(e, OutOfTime) for e in err.exceptions):
            raise OutOfTime(str(err.exceptions[0])) from None
        stub = first_not_implemented(err)
        if stub is not None:
            return outcome(chk, False, str(stub), not_implemented=True)
        return outcome(chk, False, describe_failure(err))
    finally:
        if worker.alive:
            worker.end_check()


def judge_submission(path: Path, key: bytes, mode: str = "bwrap", limits: Limits = Limits(),
                     timeout: float = TIME_BUDGET_S, inputs_per_submission: bool = True) -> dict:
    """Grade one file with the hidden inputs of the course secret ``key`` and, unless
    ``inputs_per_submission`` is False, of the file's own code (``secret.for_code``). Returns {"checks": {name:
    outcome}, "problems": [...], "load_error", "log", "authors": [...], "notes": [...], "secret"}:
    problems are what went wrong in grading, notes what is worth telling but costs nothing (no
    authors named, say), secret the public fingerprint of the key."""
    result = {"checks": {}, "problems": [], "load_error": None, "sandbox": mode, "log": "", "authors": [], "notes": [],
              "secret": secret.fingerprint(key)}
    try:
        code = submission_code(path)
    except UnreadableSubmission as err:
        result["problems"].append(str(err))
        result["checks"] = {c.name: outcome(c, False, str(err)) for c in CHECKS.values()}
        return result
    result["authors"], note = submission_authors(code)
    if note:
        result["notes"].append(note)
    if built := hidden_code(code):  # a download or a decoded string: what runs is in no file anyone reads
        result["notes"].append(f"{BUILT_AT_RUN_TIME} ({built}): read it (no points lost)")
    torch.set_num_threads(1)  # small tensors; and idle OpenMP threads would spin while the worker computes
    deadline = time.monotonic() + timeout
    inputs_key = secret.for_code(key, code) if inputs_per_submission else key
    with tempfile.TemporaryFile() as log, secret.using(inputs_key):
        fatal = None  # a reason that ends all further checks
        worker = None
        try:
            for chk in CHECKS.values():
                if fatal is not None:
                    result["checks"][chk.name] = outcome(chk, False, fatal)
                    continue
                try:
                    if worker is None or not worker.alive:
                        worker = WorkerSession(code, mode, limits, log, deadline)
                        result["load_error"] = result["load_error"] or worker.load_error
                        if worker.processes.missing and not any(n.startswith(UNLIMITED) for n in result["notes"]):
                            result["notes"].append(f"{UNLIMITED} {', '.join(worker.processes.missing)} (no cgroup "
                                                   "could be made: grade as root, outside a container, for these)")
                    result["checks"][chk.name] = run_check(chk, worker)
                except OutOfTime:
                    fatal = f"not run: the time limit of {timeout:.0f}s for this submission was reached"
                    result["problems"].append(f"timed out after {timeout:.0f}s (endless loop or very slow code)")
                    result["checks"][chk.name] = outcome(chk, False, fatal)
                except WorkerFailure as err:  # the worker could not even start or load the code
                    fatal = str(err)
                    result["problems"].append(f"exited before grading finished: {err}")
                    result["checks"][chk.name] = outcome(chk, False, fatal)
        finally:  # whatever happened, nothing the submission started outlives its grading
            if worker is not None:
                worker.close()
        log.seek(0, 2)
        size = log.tell()
        log.seek(max(0, size - LOG_TAIL_BYTES))
        result["log"] = printable(log.read().decode("utf-8", errors="replace"))
        if size > LOG_TAIL_BYTES:
            result["log"] = f"[... {size - LOG_TAIL_BYTES} earlier bytes of output dropped]\n" + result["log"]
    apply_gates(result["checks"])
    if result["load_error"]:
        result["problems"].insert(0, result["load_error"])
    if all(": not implemented (" in c["feedback"] for c in result["checks"].values()):
        result["problems"].append("nothing implemented (untouched stubs)")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rnnjudge.judge", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submission", type=Path)
    p.add_argument("--sandbox", choices=("bwrap", "user", "none"), default="bwrap")
    p.add_argument("--timeout", type=float, default=TIME_BUDGET_S)
    p.add_argument("--memory-mb", type=int, default=4096)
    p.add_argument("--secret", type=Path, help=f"the course secret's file (default: ${secret.ENV})")
    args = p.parse_args(argv)
    try:
        key = secret.find(args.secret)
    except secret.NoSecret as err:
        p.error(str(err))
    limits = Limits(memory_mb=args.memory_mb, cpu_seconds=int(args.timeout) + 5)
    json.dump(judge_submission(args.submission, key, args.sandbox, limits, args.timeout), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
