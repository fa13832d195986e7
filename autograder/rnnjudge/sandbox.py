"""Starting the worker in a sandbox, and making sure nothing it started survives it.

Three ways, strongest first:

* ``bwrap`` (bubblewrap, unprivileged through user namespaces): new mount, PID, network, IPC
  and UTS namespaces; the system and the Python environment read-only; only the worker's files and
  the submission's copy inside; no network; no capabilities; it dies with the judge. The one
  folder it can write is its scratch folder, a private tmpfs of ``SCRATCH_BYTES`` on /dev/shm (its
  home, working folder and TMPDIR); /tmp and every other folder are read-only, as they are closed to
  the worker in the grading containers, so a file that writes elsewhere fails the same way on every
  route.
* ``user`` (inside Docker, where bwrap is usually blocked, as root): the worker runs as the
  unprivileged user ``nobody`` in a scratch folder of its own on /dev/shm's tmpfs
  (``make_scratch``), removed after it. It cannot write the judge's files or signal the judge, and
  it cannot read files that are not readable by others (the plugin makes the autograder's files
  so); it still sees the rest of the file system. In the grading container the scratch folder is
  the only place it can write (``rnnjudge.container`` closes the shared ones).
* ``none`` (``--no-sandbox``): only the limits below. Every grade then says it was made
  unsandboxed.

In every way the worker itself first gives up the network for good (``no_network``: a seccomp
filter), whatever network the machine or container has; and limits on address space, CPU time,
file size and open files per process; where cgroups can be made (root, outside a container), the
submission's processes together are held to one core, to the memory limit and to a process
count, so that no submission slows another one down; where they cannot, the count is limited
per user (``RLIMIT_NPROC``, when the worker is not root) and the status says which limits were
missing. When the worker is done, every process it
started is killed (its cgroup, else its session).
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

WORKER_FILES = ("worker.py", "protocol.py", "no_network.py")
PACKAGE_DIR = Path(__file__).resolve().parent
INSIDE = "/worker"  # where the worker's folder appears inside the bwrap sandbox
NOBODY = 65534
MAX_PROCESSES = 64
FILE_SIZE_LIMIT = 64 << 20
# The worker's scratch folder: on /dev/shm, a tmpfs in every Docker container (where ``make_scratch``
# makes it, capped by that tmpfs: Docker's default is 64 MB) and under bubblewrap (a tmpfs of its own,
# capped at the same size), so that a submission's writes fit, or fail, alike on every route.
SCRATCH_PARENT = Path("/dev/shm")
SCRATCH_PREFIX = "rnnjudge-scratch-"
SCRATCH_BYTES = 64 << 20
SANDBOX_SCRATCH = f"{SCRATCH_PARENT}/{SCRATCH_PREFIX}sandbox"  # where bubblewrap mounts it
CGROUP_EMPTY_SECONDS = 30.0  # how long the clean-up waits for killed processes to leave their cgroup
# A grading run's name (``rnnlab grade`` sets it for its judges): every cgroup of the run is called
# ``rnnjudge-<run>-<id>``, so that the run can find and remove its own at the end, and only its own.
RUN_VARIABLE = "RNNJUDGE_RUN"

INSTALL_HINT = ("install bubblewrap: `sudo apt-get install bubblewrap` (Debian/Ubuntu), `sudo dnf install "
                "bubblewrap` (Fedora); it needs unprivileged user namespaces. On macOS there is no bubblewrap: "
                "grade in a Linux VM or with `otter grade` (Docker).")


# Seconds per submission, the same on every route: `rnnlab grade`'s default --timeout, written into the
# autograder zip by `rnnlab release` and read there by the otter plugin. The reference solution takes
# 13 s, 25 s at Gradescope's 0.5 CPU; a correct file that waits 5 s on each task's first call in a
# process (a file read, a lock: tests/submission_bank.py's SLOW_SOLUTION) waits 5 s in every check,
# and took 246 s under `rnnlab grade` on a busy 2-core machine. Half as much again leaves room for a
# slower one; an endless loop costs its submission this long.
TIME_BUDGET_S = 360.0


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 4096
    cpu_seconds: int = 300


def python_roots() -> list[str]:
    """Folders the worker's Python needs: the interpreter and the environment with torch and numpy."""
    import numpy
    import torch

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             os.path.dirname(os.path.dirname(torch.__file__)), os.path.dirname(os.path.dirname(numpy.__file__))}
    paths = sorted(os.path.realpath(p) for p in paths)
    return [p for p in paths if not any(p != q and p.startswith(q + os.sep) for q in paths)]


def system_binds() -> list[str]:
    """/usr read-only, with /bin, /lib, /lib64, /sbin as the host has them (links or folders)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "lib32", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def hidden_paths(roots: list[str]) -> list[str]:
    """The judge's own package, if an installed copy lies inside a folder the worker sees."""
    return [str(PACKAGE_DIR)] if any(str(PACKAGE_DIR).startswith(r + os.sep) for r in roots) else []


def worker_program(folder: str) -> list[str]:
    return [sys.executable, "-I", "-B", f"{folder}/worker.py", f"{folder}/rnn_lm.py"]


def bwrap_command(worker_dir: Path, program: list[str] | None = None) -> list[str]:
    roots = python_roots()
    args = ["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            *system_binds(), "--proc", "/proc", "--dev", "/dev", "--size", str(SCRATCH_BYTES),
            "--tmpfs", SANDBOX_SCRATCH, "--dir", "/tmp"]
    for root in roots:
        args += ["--ro-bind", root, root]
    for path in hidden_paths(roots):  # an empty tmpfs over it, read-only as the rest
        args += ["--tmpfs", path, "--remount-ro", path]
    # The root and /dev (bubblewrap's own tmpfs, /dev/shm in it) read-only last, once every folder
    # above is made: only the scratch folder's mount stays writable.
    args += ["--ro-bind", str(worker_dir), INSIDE, "--remount-ro", "/dev", "--remount-ro", "/",
             "--chdir", SANDBOX_SCRATCH, "--clearenv", "--uid", str(NOBODY), "--gid", str(NOBODY), "--disable-userns"]
    for key, value in worker_environment(SANDBOX_SCRATCH).items():
        args += ["--setenv", key, value]
    return args + (program or worker_program(INSIDE))


def worker_environment(home: str) -> dict[str, str]:
    return {"HOME": home, "TMPDIR": home, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}


@functools.lru_cache(maxsize=None)
def bwrap_problem() -> str | None:
    """None if a bwrap sandbox starts here, else why not (with what to do)."""
    if shutil.which("bwrap") is None:
        return f"bubblewrap (bwrap) is not installed; {INSTALL_HINT}"
    probe = bwrap_command(PACKAGE_DIR, [sys.executable, "-c", "import torch"])
    proc = subprocess.run(probe, capture_output=True, text=True)
    if proc.returncode != 0:
        return (f"bubblewrap cannot start a sandbox here ({proc.stderr.strip()[:300]}); inside Docker its "
                "default seccomp profile blocks it. " + INSTALL_HINT)
    return None


def become_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@functools.lru_cache(maxsize=None)
def nobody_can_run_python() -> bool:
    """As root: can the user ``nobody`` start the worker's Python with torch? (Not where it lives in a
    folder nobody cannot enter, such as /root: in otter's grading container ``rnnjudge.container``
    opens the way.)"""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        return False
    # In a scratch folder that is its TMPDIR, as the worker has it: where the grading container has closed
    # the shared folders, Python's tempfile (which torch's import uses) finds no other.
    scratch = make_scratch()
    try:
        probe = subprocess.run([sys.executable, "-I", "-c", "import torch, numpy"], capture_output=True, cwd=scratch,
                               preexec_fn=become_nobody, env=worker_environment(str(scratch)))
    except OSError:  # the interpreter itself is out of its reach
        return False
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return probe.returncode == 0


def best_mode() -> str:
    """The strongest sandbox available here (used by the otter plugin, which cannot ask the TA)."""
    if bwrap_problem() is None:
        return "bwrap"
    return "user" if nobody_can_run_python() else "none"


# ----------------------------------------------------------------------------
# The submission's cgroup: its processes counted, its CPU and memory capped, all killed at the end
# ----------------------------------------------------------------------------

CPU_PERIOD_US = 100_000  # cpu.max's period: the quota below is one core's worth of it


def v2_root() -> tuple[Path, set[str]] | None:
    """The cgroup v2 folder whose children can have the pids controller, and its controllers."""
    for parent in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        control = parent / "cgroup.subtree_control"
        if control.is_file() and "pids" in (controllers := set(control.read_text().split())):
            return parent, controllers
    return None


def cgroup_settings(limits: Limits) -> dict[str, dict[str, str]]:
    """controller -> {file: value}, in cgroup v2's names and in v1's."""
    memory = str(limits.memory_mb << 20)
    return {"v2": {"pids.max": str(MAX_PROCESSES), "cpu.max": f"{CPU_PERIOD_US} {CPU_PERIOD_US}",
                   "memory.max": memory, "memory.swap.max": "0"},
            "pids": {"pids.max": str(MAX_PROCESSES)},
            "cpu": {"cpu.cfs_period_us": str(CPU_PERIOD_US), "cpu.cfs_quota_us": str(CPU_PERIOD_US)},
            "memory": {"memory.limit_in_bytes": memory}}


class ProcessGroup:
    """Where the worker and all it starts are counted (at most ``MAX_PROCESSES``), held to one core
    and to ``limits.memory_mb`` together (not per process: six children of 800 MB are 4.8 GB), and
    killed at the end: one cgroup (v2), or one per controller (v1), where this process may make them
    (root, outside a container). ``missing`` names the limits that could not be set."""

    def __init__(self, limits: Limits = Limits()):
        self.paths: list[Path] = []
        name = f"{cgroup_prefix()}{uuid.uuid4().hex[:12]}"
        wanted = cgroup_settings(limits)
        applied: set[str] = set()
        root = v2_root()
        if root is not None:
            parent, controllers = root
            settings = {f: v for f, v in wanted["v2"].items() if f.split(".")[0] in controllers}
            if self.make(parent / name, settings):
                applied = {f.split(".")[0] for f in settings}
        else:
            for controller in ("pids", "cpu", "memory"):
                parent = Path("/sys/fs/cgroup") / controller
                if (parent / "cgroup.procs").is_file() and self.make(parent / name, wanted[controller]):
                    applied.add(controller)
        self.missing = [what for controller, what in (("pids", "process count"), ("cpu", "one core"),
                                                      ("memory", "memory per submission")) if controller not in applied]

    def make(self, path: Path, settings: dict[str, str]) -> bool:
        if not os.access(path.parent, os.W_OK):
            return False
        try:
            path.mkdir()
        except OSError:
            return False
        try:
            for file, value in settings.items():
                if (path / file).exists():
                    (path / file).write_text(value)
        except OSError:
            path.rmdir()
            return False
        self.paths.append(path)
        return True

    def enter(self) -> None:
        """In the child, before exec."""
        for path in self.paths:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def lift_cpu_limit(self) -> None:
        for path in self.paths:
            for file, unlimited in (("cpu.max", "max"), ("cpu.cfs_quota_us", "-1")):
                try:
                    if (path / file).exists():
                        (path / file).write_text(unlimited)
                except OSError:
                    pass

    def kill_all(self, leader: subprocess.Popen, as_nobody: bool = False) -> None:
        """Kill the worker's session, every process of ``nobody`` if it ran as that user, and
        everything left in its cgroups; reap the worker."""
        self.lift_cpu_limit()  # killed processes still need CPU time to exit: not at one core's quota
        try:
            os.killpg(leader.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        leader.wait()
        if as_nobody:  # a child of its own that left the session: every process of nobody, until none is left
            kill_every_process_of(NOBODY)
        for path in self.paths:
            empty_and_remove(path)


def missing_limits(limits: Limits = Limits()) -> list[str]:
    """The per-submission limits that cannot be set here (a process group made and removed)."""
    group = ProcessGroup(limits)
    for path in group.paths:
        path.rmdir()
    return group.missing


def processes_of(uid: int) -> list[int]:
    """Live processes of ``uid`` (a zombie, already dead, is not one)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid and \
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(entry.name))
        except (OSError, IndexError):
            pass
    return found


def kill_every_process_of(uid: int) -> None:
    """As root: SIGKILL every process of ``uid``, again until a look at /proc finds none (one that
    forked meanwhile is found the next time; a killed process cannot stop root's signal)."""
    deadline = time.monotonic() + CGROUP_EMPTY_SECONDS
    while (pids := processes_of(uid)) and time.monotonic() < deadline:
        kill_each(pids)
        time.sleep(0.01)


def kill_each(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def cgroup_prefix(run: str | None = None) -> str:
    return f"rnnjudge-{run or os.environ.get(RUN_VARIABLE) or 'solo'}-"


def cgroups_of_run(run: str) -> list[Path]:
    """The cgroups of grading run ``run`` still there, under cgroup v2 or any v1 controller."""
    parents = [Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")] + \
        [Path("/sys/fs/cgroup") / controller for controller in ("pids", "cpu", "memory")]
    return sorted(path for parent in parents if parent.is_dir() for path in parent.glob(cgroup_prefix(run) + "*"))


def remove_cgroups_of_run(run: str, wait_s: float = 120.0) -> list[Path]:
    """At the end of a grading run: kill what is left in its cgroups and remove them as the kernel
    releases them (a judge's own clean-up gives up after ``CGROUP_EMPTY_SECONDS``); returns those
    still there after ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while (left := cgroups_of_run(run)) and time.monotonic() < deadline:
        for path in left:
            try:
                kill_each([int(p) for p in (path / "cgroup.procs").read_text().split()])
                path.rmdir()
            except OSError:  # gone meanwhile, or EBUSY: members not yet released
                pass
        time.sleep(0.5)
    return cgroups_of_run(run)


def empty_and_remove(path: Path) -> None:
    try:  # cgroup v2 (Linux 5.14+): every member killed at once, forks in flight included
        (path / "cgroup.kill").write_text("1")
    except OSError:
        pass
    deadline = time.monotonic() + CGROUP_EMPTY_SECONDS
    while True:  # killed processes leave the cgroup once reaped, later on a loaded machine
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
            if not pids:
                path.rmdir()
                return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY: members not yet gone
            pids = []
        if time.monotonic() > deadline:  # left for the run's own sweep (``remove_cgroups_of_run``)
            return
        kill_each(pids)
        time.sleep(0.02)


def limit_resources(limits: Limits, switch_user: bool, processes: ProcessGroup) -> None:
    """In the child before exec: join the process group, set limits, maybe become ``nobody``."""
    processes.enter()
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb << 20, limits.memory_mb << 20))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if switch_user:
        become_nobody()
    if os.getuid() != 0:  # counted per real user: only binding for a non-root one
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))


def prepare_worker_dir(worker_dir: Path, submission_code: str, mode: str) -> None:
    """The worker's folder: its files (``WORKER_FILES``) and the submission's code, readable by the worker only."""
    for name in WORKER_FILES:
        shutil.copy(PACKAGE_DIR / name, worker_dir / name)
    (worker_dir / "rnn_lm.py").write_text(submission_code, encoding="utf-8")
    if mode == "user":
        os.chmod(worker_dir, 0o755)


def make_scratch() -> Path:
    """``user`` mode: the worker's home, working folder and TMPDIR, and the only folder it can write
    once the grading container has closed the shared ones to it (``rnnjudge.container``): on
    /dev/shm's tmpfs, so capped at its size (Docker's 64 MB unless ``--shm-size``) and counted in the
    container's memory, as bubblewrap's scratch is a tmpfs of ``SCRATCH_BYTES``. The caller removes it."""
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=SCRATCH_PARENT if SCRATCH_PARENT.is_dir() else None))
    os.chown(folder, NOBODY, NOBODY)
    return folder


def start_worker(worker_dir: Path, mode: str, limits: Limits, log, program=worker_program,
                 home: Path | None = None) -> tuple[subprocess.Popen, ProcessGroup]:
    """Start the worker on ``worker_dir`` (see ``prepare_worker_dir``); stdin/stdout are the channel.
    ``program(folder)``: the command, given where ``worker_dir`` appears to it (the worker's by default).
    ``home``: where it works and writes outside bubblewrap (``make_scratch`` in ``user`` mode; by default
    ``worker_dir``)."""
    processes = ProcessGroup(limits)
    if mode == "bwrap":
        argv, cwd = bwrap_command(worker_dir, program(INSIDE)), worker_dir
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    else:
        home = home or worker_dir
        argv = program(str(worker_dir))
        cwd, env = home, worker_environment(str(home))
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=cwd, env=env,
                            start_new_session=True, close_fds=True,
                            preexec_fn=functools.partial(limit_resources, limits, mode == "user", processes))
    return proc, processes
