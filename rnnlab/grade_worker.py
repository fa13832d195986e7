"""Grades one submission in its own process; started by ``rnnlab grade``, never imported by it.

Protocol: the parent writes one JSON line to stdin (submission path, result path, checks folder,
a nonce) and closes it. This process loads the check library first (so it holds the libraries'
own functions), reads the request and closes stdin, then runs the submission as the module
``rnn_lm`` with its printing capped, runs every check and writes the result file, which carries
the nonce so that the parent can tell it from one forged by the submission.
"""

import io
import json
import os
import sys
import traceback

OUTPUT_CAP = 200_000  # characters of the submission's own printing that are kept


class CappedWriter(io.TextIOBase):
    """Keeps the first OUTPUT_CAP characters of what is printed, counts the rest."""

    def __init__(self):
        self.kept, self.total = [], 0

    def write(self, text):
        if self.total < OUTPUT_CAP:
            self.kept.append(text[: OUTPUT_CAP - self.total])
        self.total += len(text)
        return len(text)

    def text(self) -> str:
        extra = self.total - OUTPUT_CAP
        return "".join(self.kept) + (f"\n[... {extra} more characters of output dropped]" if extra > 0 else "")


def submission_source(path: str) -> str:
    """The code of a .py file, or the code cells of a notebook (IPython magics and shell lines dropped)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if not path.endswith(".ipynb"):
        return text
    cells = json.loads(text).get("cells", [])
    code = []
    for cell in cells:
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            code.append("\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))))
    return "\n\n".join(code)


def load_submission(path: str, namespace: dict) -> str | None:
    """Execute the submission into ``namespace``; return what went wrong, or None."""
    try:
        code = compile(submission_source(path), path, "exec")
    except SyntaxError as err:
        return f"syntax error: line {err.lineno}: {err.msg}"
    try:
        exec(code, namespace)
    except SystemExit as err:
        return f"called sys.exit({err.code!r}) while loading"
    except BaseException as err:  # noqa: BLE001 - a broken submission is graded, not fatal
        tb = traceback.extract_tb(err.__traceback__)
        where = next((f"line {fr.lineno}" for fr in reversed(tb) if fr.filename == path), "")
        return f"crashed while loading ({where}): {type(err).__name__}: {err}"
    return None


def main() -> None:
    checks_dir = sys.argv[1]
    sys.path.insert(0, checks_dir)
    import hidden_checks  # before the submission: it keeps references to the pristine functions

    request = json.loads(sys.stdin.readline())
    sys.stdin.close()  # the submission cannot read the nonce
    result_file = open(request["result"], "w")  # opened before the submission runs

    import types
    module = types.ModuleType("rnn_lm")
    module.__file__ = request["submission"]
    sys.modules["rnn_lm"] = module
    captured = CappedWriter()
    real_stdout, real_stderr = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = captured
    try:
        load_error = load_submission(request["submission"], module.__dict__)
        results = {name: hidden_checks.run_check(name, module.__dict__) for name in hidden_checks.CHECKS}
    finally:
        sys.stdout, sys.stderr = real_stdout, real_stderr
    tampered = hidden_checks.tampering()
    json.dump({"nonce": request["nonce"], "load_error": load_error, "tampered": tampered,
               "checks": {n: {"task": hidden_checks.CHECKS[n].task, "passed": ok, "feedback": fb}
                          for n, (ok, fb) in results.items()},
               "output": captured.text()}, result_file)
    result_file.close()
    os._exit(0)  # skip interpreter teardown: nothing the submission registered (atexit) runs after grading


if __name__ == "__main__":
    main()
