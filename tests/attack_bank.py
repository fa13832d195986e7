"""Hostile submissions: the untouched skeleton plus code that attacks the grader. The skeleton's
honest code earns nothing, so any point, any changed file, row or process is a successful attack.

``attacks(targets)`` takes the paths a student who knows the TA's layout would aim at:
``repo`` (this repository), ``out`` (the grading output folder), ``classmates`` (the folder of
submissions) and ``marker`` (a string left in the command line of any process an attack starts).
"""

from pathlib import Path

SKELETON = (Path(__file__).resolve().parent.parent / "assignment" / "rnn_lm.py").read_text()

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
import os
for _i in range(40):
    try:
        with open(f"/tmp/fill{_i}", "wb") as f:
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
