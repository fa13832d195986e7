"""Judge one submission: run every check against a sandboxed worker, return plain results.

    python -m rnnjudge.judge rnn_lm.py [--sandbox bwrap|user|none] [--timeout 120] [--memory-mb 4096]

prints the result as JSON. This process never executes, imports or unpickles anything that came
from the submission: it reads the submission's text, hands it to the worker, and judges the
plain data that comes back (``session``) against its own references (``checks``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from . import checks  # noqa: F401 - registers the checks
from .registry import CHECKS, GATE_MESSAGE, Check
from .sandbox import Limits
from .session import NotImplementedInSubmission, OutOfTime, WorkerFailure, WorkerSession, untrusted_text

LOG_TAIL_BYTES = 20_000


class UnreadableSubmission(Exception):
    """The file holds no code the worker could load; the message is the grade's status."""


def submission_code(path: Path) -> str:
    """The code of a .py file, or the code cells of a notebook (IPython magics and shell lines dropped)."""
    if path.is_symlink() or path.parent.is_symlink():  # a link to a classmate's file or the solution
        raise UnreadableSubmission("the submission is a symbolic link, not a file: submit the file itself: no points")
    text = path.read_bytes().decode("utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return text
    try:
        notebook = json.loads(text)
    except ValueError as err:
        raise UnreadableSubmission(f"not a valid notebook ({untrusted_text(str(err), 120)}): no points") from None
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
    return "\n\n".join(code)


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
    if passed:
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


def judge_submission(path: Path, mode: str = "bwrap", limits: Limits = Limits(), timeout: float = 120.0) -> dict:
    """Grade one file. Returns {"checks": {name: outcome}, "problems": [...], "load_error", "log"}."""
    result = {"checks": {}, "problems": [], "load_error": None, "sandbox": mode, "log": ""}
    try:
        code = submission_code(path)
    except UnreadableSubmission as err:
        result["problems"].append(str(err))
        result["checks"] = {c.name: outcome(c, False, str(err)) for c in CHECKS.values()}
        return result
    torch.set_num_threads(1)  # small tensors; and idle OpenMP threads would spin while the worker computes
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryFile() as log:
        fatal = None  # a reason that ends all further checks
        worker = None
        for chk in CHECKS.values():
            if fatal is not None:
                result["checks"][chk.name] = outcome(chk, False, fatal)
                continue
            try:
                if worker is None or not worker.alive:
                    worker = WorkerSession(code, mode, limits, log, deadline)
                    result["load_error"] = result["load_error"] or worker.load_error
                result["checks"][chk.name] = run_check(chk, worker)
            except OutOfTime:
                fatal = f"not run: the time limit of {timeout:.0f}s for this submission was reached"
                result["problems"].append(f"timed out after {timeout:.0f}s (endless loop or very slow code)")
                result["checks"][chk.name] = outcome(chk, False, fatal)
            except WorkerFailure as err:  # the worker could not even start or load the code
                fatal = str(err)
                result["problems"].append(f"exited before grading finished: {err}")
                result["checks"][chk.name] = outcome(chk, False, fatal)
        if worker is not None:
            worker.close()
        log.seek(0, 2)
        size = log.tell()
        log.seek(max(0, size - LOG_TAIL_BYTES))
        result["log"] = log.read().decode("utf-8", errors="replace")
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
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--memory-mb", type=int, default=4096)
    args = p.parse_args(argv)
    limits = Limits(memory_mb=args.memory_mb, cpu_seconds=int(args.timeout) + 5)
    json.dump(judge_submission(args.submission, args.sandbox, limits, args.timeout), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
