"""The judge's end of the channel to one worker: start it, send requests, enforce time limits.

Every reply is checked for form here (data only, size-bounded, in time); what it means is
judged by the checks. A reply that is late or malformed, or a worker that dies, fails the
check in progress with a message and marks the worker dead: the judge starts a fresh one for
the next check.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from . import sandbox
from .protocol import ProtocolError, read_message, write_message

TEXT_CAP = 600  # characters of any text from the worker that can reach feedback


# All but tab and newline (terminal escapes, carriage returns), and lone surrogates (which no file can encode).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` without control characters (tab and newline kept): nothing a submission wrote moves a
    TA's terminal cursor, recolours it or hides text in a file a person reads."""
    return CONTROL_CHARACTERS.sub("", text)


def untrusted_text(value, cap: int = TEXT_CAP) -> str:
    text = printable(value if isinstance(value, str) else repr(value))
    return text if len(text) <= cap else text[:cap] + " [...]"


class WorkerFailure(AssertionError):
    """The worker did not answer properly: it died, hung, or sent something that is not a reply."""


class SubmissionError(AssertionError):
    """The submission's code raised an exception while answering."""


class NotImplementedInSubmission(AssertionError):
    """The submission's code raised NotImplementedError (an untouched stub)."""


class OutOfTime(WorkerFailure):
    """The submission's whole time budget is spent."""


class WorkerSession:
    """One worker process on one submission's code."""

    def __init__(self, code: str, mode: str, limits: sandbox.Limits, log, deadline: float,
                 request_timeout: float = 10.0):
        self.deadline, self.request_timeout, self.mode = deadline, request_timeout, mode
        self.folder = tempfile.TemporaryDirectory(prefix="rnnjudge-worker-")
        sandbox.prepare_worker_dir(Path(self.folder.name), code, mode)
        self.scratch = sandbox.make_scratch() if mode == "user" else None
        self.proc, self.processes = sandbox.start_worker(Path(self.folder.name), mode, limits, log, home=self.scratch)
        self.alive = True
        self.in_check = self.child_reaped = False
        hello, _ = self._read("loading your code", patient=True)  # loading may take the whole budget
        if hello.get("hello") is not True:
            self.close()
            raise WorkerFailure("while loading your code, your code's process sent something that is not a reply "
                                "(it wrote to the grader's channel)")
        self.load_error = hello.get("load_error")
        if self.load_error is not None:
            self.load_error = untrusted_text(self.load_error)

    # -- the channel -----------------------------------------------------------------

    def _timeout(self, patient: bool) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OutOfTime("the time limit for this submission was reached")
        return left if patient else min(left, self.request_timeout)

    def _read(self, during: str, patient: bool = False) -> tuple[dict, dict]:
        try:
            timeout = self._timeout(patient)
            header, arrays = read_message(self.proc.stdout.fileno(), timeout)
        except (ProtocolError, OSError, ValueError) as err:  # ValueError: the channel was already closed
            self.close()
            if time.monotonic() >= self.deadline:
                raise OutOfTime("the time limit for this submission was reached") from None
            if "in time" in str(err):
                why = "did not answer in time (endless loop or very slow code?)"
            elif "closed" in str(err):
                why = f"ended ({describe_returncode(self.proc.returncode)})"
            else:
                why = f"sent something that is not a reply ({err})"
            raise WorkerFailure(f"while {during}, your code's process {why}") from None
        except OutOfTime:
            self.close()
            raise
        if "child_exit" in header:
            self.in_check, self.child_reaped = False, True
            raise WorkerFailure(f"while {during}, your code ended its process "
                                f"({untrusted_text(header['child_exit'], 80)}): os._exit, a crash, or a memory limit")
        return header, arrays

    def _send(self, header: dict, arrays: dict | None = None) -> None:
        """Never blocks past the request's time limit: a worker that stops reading is given up."""
        if not self.alive:
            raise WorkerFailure("your code's process had already ended")
        try:
            write_message(self.proc.stdin.fileno(), header, arrays, timeout=self._timeout(patient=False))
        except OutOfTime:
            self.close()
            raise
        except (ProtocolError, OSError) as err:
            self.close()
            if time.monotonic() >= self.deadline:
                raise OutOfTime("the time limit for this submission was reached") from None
            why = "stopped reading requests" if "stopped reading" in str(err) else "ended"
            raise WorkerFailure(f"your code's process {why}: it could not be sent the check's question") from None

    # -- checks ------------------------------------------------------------------------

    def begin_check(self) -> None:
        self._send({"op": "begin"})
        self.child_reaped = False
        self._read("starting the check")
        self.in_check = True

    def end_check(self) -> None:
        """End the check's child cleanly, or give up on this worker."""
        try:
            if self.in_check:
                self._send({"op": "end"})
                self._read("ending the check")
            self.in_check = False
            if not self.child_reaped:
                header, _ = read_message(self.proc.stdout.fileno(), min(10.0, self._timeout(patient=True)))
                if "child_exit" not in header:
                    self.close()
        except (WorkerFailure, ProtocolError, OSError, ValueError):
            self.close()

    def request(self, op: str, header: dict | None = None, arrays: dict | None = None) -> tuple[dict, dict]:
        """Send one request; return the reply's (header, arrays), or raise with feedback."""
        self._send({"op": op, **(header or {})}, arrays)
        reply, out = self._read(f"answering `{op}`")
        if reply.get("ok") is True:
            return reply, out
        if "not_implemented" in reply:
            raise NotImplementedInSubmission(untrusted_text(reply["not_implemented"]))
        raise SubmissionError(f"your code raised {untrusted_text(reply.get('error', 'an error'))}")

    def close(self) -> None:
        if self.alive:
            self.alive = False
            self.processes.kill_all(self.proc, as_nobody=self.mode == "user")
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.folder.cleanup()
            if self.scratch is not None:  # after every process of the worker's user is gone
                shutil.rmtree(self.scratch, ignore_errors=True)


def describe_returncode(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by signal {-code}"
    return f"exit code {code}"


def expect_array(arrays: dict, name: str, shape: tuple | None = None, what: str | None = None) -> np.ndarray:
    """A float array from a reply, as float64, of the expected shape."""
    what = what or name
    value = arrays.get(name)
    if value is None or value.dtype.kind != "f":
        raise AssertionError(f"{what}: no floating-point values came back")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise AssertionError(f"{what}: shape {tuple(value.shape)}, expected {tuple(shape)}")
    return value.astype(np.float64)
