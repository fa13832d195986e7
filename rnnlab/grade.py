"""``rnnlab grade``: grade a class without Docker.

Each submission runs in its own process (``rnnlab.grade_worker``) with a wall-clock limit, memory
and file-size limits, no network where ``unshare`` allows it, and its output captured. Whatever
a submission does (a syntax error, a crash or ``sys.exit`` at import, an endless loop, runaway
memory, megabytes of printing), it gets exactly one row, and no other submission is affected.

Writes to ``--out``: ``final_grades.csv`` (otter's columns), per submission ``NAME/results.json``
(Gradescope's format) and ``NAME/feedback.txt``, and ``score_distribution.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab import AUTOGRADER_DIR
from rnnlab.tasks import TASKS, TOTAL_POINTS

SUBMISSION_SUFFIXES = (".py", ".ipynb")
WORKER = Path(__file__).resolve().parent / "grade_worker.py"


@dataclass
class Grade:
    file: str
    task_points: dict[str, float] = field(default_factory=lambda: {t.key: 0.0 for t in TASKS})
    status: str = "graded"
    checks: dict = field(default_factory=dict)  # name -> {"task", "passed", "feedback"}
    output: str = ""

    @property
    def total(self) -> float:
        return round(sum(self.task_points.values()), 4)


def find_submissions(paths: list[str]) -> dict[str, Path]:
    """Submissions by name: files given directly (their name), the .py/.ipynb files inside a given
    folder (their name), and one level down the ``rnn_lm.py`` of each student's folder, as GitHub
    Classroom clones them (``alice/rnn_lm.py``)."""
    found: dict[str, Path] = {}

    def add(name: str, path: Path) -> None:
        if name in found:
            raise ValueError(f"two submissions are both called {name}: {found[name]} and {path}; "
                             "pass their folders instead, or rename one")
        found[name] = path

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.iterdir()):
                if f.is_file() and f.suffix in SUBMISSION_SUFFIXES:
                    add(f.name, f)
                elif f.is_dir() and (f / "rnn_lm.py").is_file():
                    add(f"{f.name}/rnn_lm.py", f / "rnn_lm.py")
        elif p.is_file():
            add(p.name, p)
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return found


def network_isolation() -> list[str]:
    """``unshare -n`` when this machine allows it (root or user namespaces), else nothing."""
    unshare = shutil.which("unshare")
    for prefix in ([unshare, "-n"], [unshare, "-r", "-n"]) if unshare else ():
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return []


def limit_resources(memory_mb: int, cpu_seconds: int) -> None:
    """In the child before exec: memory, CPU time and file-size limits."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))


def checks_of_task(grade: Grade, task: int) -> list[tuple[str, dict]]:
    return [(name, c) for name, c in grade.checks.items() if c["task"] == task]


def score(grade: Grade) -> None:
    """Otter's rule: a task's points are split equally among its checks."""
    for t in TASKS:
        mine = [c for _, c in checks_of_task(grade, t.number)]
        if mine:
            grade.task_points[t.key] = round(t.points * sum(c["passed"] for c in mine) / len(mine), 4)


def grade_one(name: str, path: Path, timeout: float, memory_mb: int, net_prefix: list[str]) -> Grade:
    grade = Grade(file=name)
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="rnnlab-grade-") as tmp:
        result_path = Path(tmp) / "result.json"
        log_path = Path(tmp) / "process-output.txt"
        request = json.dumps({"submission": str(path.resolve()), "result": str(result_path), "nonce": nonce})
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "PYTHONHASHSEED": "0",
               "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "HYPOTHESIS_STORAGE_DIRECTORY": tmp}
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([*net_prefix, sys.executable, "-I", str(WORKER), str(AUTOGRADER_DIR)],
                                    stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, cwd=tmp, env=env,
                                    start_new_session=True,
                                    preexec_fn=lambda: limit_resources(memory_mb, int(timeout) + 5))
            try:
                proc.stdin.write(request.encode() + b"\n")
                proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
                grade.status = f"timed out after {timeout:.0f}s (endless loop or very slow code): no points"
                return grade
        tail = log_path.read_bytes()[-2000:].decode(errors="replace")
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError):
            result = None
        if not isinstance(result, dict) or result.get("nonce") != nonce:  # missing, or written by the submission
            grade.status = describe_death(proc.returncode, tail, memory_mb)
            grade.output = tail
            return grade
    grade.checks, grade.output = result["checks"], result["output"]
    score(grade)
    notes = []
    if result["load_error"]:
        notes.append(result["load_error"])
    if result["tampered"]:
        notes.append("replaced library functions: " + ", ".join(result["tampered"]))
    if all(": not implemented (" in c["feedback"] for c in grade.checks.values()):
        notes.append("nothing implemented (untouched stubs)")
    grade.status = "graded" + (" with problems: " + "; ".join(notes) if notes else "")
    return grade


def describe_death(returncode: int, tail: str, memory_mb: int) -> str:
    if returncode in (-9, -24) or "MemoryError" in tail or "std::bad_alloc" in tail:
        return f"killed: exceeded the memory limit ({memory_mb} MB) or CPU time: no points"
    if returncode == -25:
        return "killed: wrote more than 64 MB of output: no points"
    return f"exited before grading finished (exit code {returncode}; os._exit or a crash at load): no points"


def feedback_text(grade: Grade) -> str:
    lines = [f"Submission: {grade.file}", f"Status: {grade.status}",
             f"Score: {grade.total:g} / {TOTAL_POINTS}", ""]
    for t in TASKS:
        lines.append(f"Task {t.number} ({t.title}): {grade.task_points[t.key]:g} / {t.points}")
        for _, c in checks_of_task(grade, t.number):
            mark = "PASS" if c["passed"] else "FAIL"
            lines.append(f"  [{mark}] " + c["feedback"].replace("\n", "\n         "))
        lines.append("")
    if grade.output.strip():
        lines += ["Output of your code while grading (truncated):", grade.output[-5000:]]
    return "\n".join(lines) + "\n"


def gradescope_results(grade: Grade) -> dict:
    """Gradescope's results.json: one test a check, each worth its share of the task's points."""
    tests = []
    for t in TASKS:
        mine = checks_of_task(grade, t.number)
        for name, c in mine:
            share = t.points / len(mine)
            tests.append({"name": f"Task {t.number}: {name}", "score": share if c["passed"] else 0.0,
                          "max_score": share, "output": c["feedback"], "visibility": "visible"})
    return {"score": grade.total, "output": f"Status: {grade.status}", "tests": tests,
            "leaderboard": [], "visibility": "visible", "stdout_visibility": "hidden"}


def write_outputs(grades: list[Grade], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "final_grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", *(t.key for t in TASKS), "total_points_earned", "percent_correct", "grading_status"])
        for g in grades:
            writer.writerow([g.file, *(f"{g.task_points[t.key]:g}" for t in TASKS), f"{g.total:g}",
                             f"{100 * g.total / TOTAL_POINTS:.2f}", g.status])
    used = set()
    for g in grades:
        folder = g.file.split("/")[0] if "/" in g.file else Path(g.file).stem
        while folder in used:  # alice.py next to alice/rnn_lm.py
            folder += "_"
        used.add(folder)
        (out / folder).mkdir(exist_ok=True)
        (out / folder / "results.json").write_text(json.dumps(gradescope_results(g), indent=1))
        (out / folder / "feedback.txt").write_text(feedback_text(g))
    plot_distribution(grades, out / "score_distribution.png")


def plot_distribution(grades: list[Grade], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.hist([100 * g.total / TOTAL_POINTS for g in grades], bins=range(0, 105, 5), color="tab:blue", edgecolor="white")
    ax1.set(xlabel="percent correct", ylabel="submissions", title=f"Scores ({len(grades)} submissions)")
    means = [sum(g.task_points[t.key] for g in grades) / len(grades) / t.points * 100 for t in TASKS]
    ax2.bar([f"Task {t.number}" for t in TASKS], means, color="tab:green")
    ax2.set(ylim=(0, 100), ylabel="mean percent of points", title="By task")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def grade_all(submissions: dict[str, Path], out: Path, workers: int, timeout: float, memory_mb: int,
              progress: bool = True) -> list[Grade]:
    from tqdm.auto import tqdm

    net_prefix = network_isolation()
    bar = tqdm(total=len(submissions), desc="grading", unit="submission", disable=not progress)

    def one(name: str) -> Grade:
        try:
            return grade_one(name, submissions[name], timeout, memory_mb, net_prefix)
        except Exception as err:  # noqa: BLE001 - the grader's own trouble still yields one row
            return Grade(file=name, status=f"grader error: {type(err).__name__}: {err}")
        finally:
            bar.update(1)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        grades = list(pool.map(one, submissions))
    bar.close()
    write_outputs(grades, out)
    return grades


def cmd_grade(args: argparse.Namespace) -> int:
    try:
        submissions = find_submissions(args.submissions)
    except (FileNotFoundError, ValueError) as err:
        print(f"rnnlab grade: {err}", file=sys.stderr)
        return 2
    if not submissions:
        print(f"rnnlab grade: no {' or '.join(SUBMISSION_SUFFIXES)} files in {', '.join(args.submissions)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    grades = grade_all(submissions, out, args.workers, args.timeout, args.memory_mb, progress=not args.no_progress)
    mean = sum(g.total for g in grades) / len(grades)
    print(f"graded {len(grades)} submissions: mean {mean:.1f} / {TOTAL_POINTS}; wrote {out / 'final_grades.csv'}, "
          f"per-submission results.json and feedback.txt, {out / 'score_distribution.png'}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("grade", help="grade submissions without Docker",
                       description="Grade .py (or .ipynb) submissions, each in its own limited process.")
    p.add_argument("submissions", nargs="+", help="submission files and/or folders of them")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per submission (default 120)")
    p.add_argument("--memory-mb", type=int, default=4096, help="address-space limit per submission (default 4096)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_grade)
