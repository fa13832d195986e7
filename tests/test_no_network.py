"""The worker gives up the network before it loads a submission (``rnnjudge.no_network``): the
filter itself, in a process of its own, and a submission that downloads its solution, judged
without bubblewrap (whose empty network namespace would hide the filter's work)."""

import http.server
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from attack_bank import NETWORK_PROBE_PREFIX, downloads_its_solution
from conftest import COURSE_KEY, RUNS_THE_JUDGE
from rnnjudge.judge import BUILT_AT_RUN_TIME, judge_submission
from submission_bank import SOLUTION

PACKAGE = Path(__file__).resolve().parent.parent / "autograder" / "rnnjudge"
OUTSIDE = "http://151.101.2.132/rnn_lm.py"  # an address on the internet (deb.debian.org's CDN), no name to look up


def filtered(code: str) -> subprocess.CompletedProcess:
    """``code`` run by a fresh Python after ``give_up_the_network()`` (so this process keeps its network)."""
    program = f"import sys; sys.path.insert(0, {str(PACKAGE)!r})\nimport no_network\nno_network.give_up_the_network()\n"
    return subprocess.run([sys.executable, "-c", program + code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("family", ["AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK", "AF_PACKET"])
def test_no_socket_of_any_family(family):
    proc = filtered(f"import socket\ntry:\n    socket.socket(socket.{family}, socket.SOCK_DGRAM)\n    print('OPENED')\n"
                    "except PermissionError as err:\n    print('REFUSED', err)\n")
    assert proc.stdout.startswith("REFUSED"), (proc.stdout, proc.stderr)


def test_the_same_socket_without_the_filter_opens():
    """The control: the socket the filter refuses opens in the same Python without it."""
    proc = subprocess.run([sys.executable, "-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                           "print('OPENED')"], capture_output=True, text=True)
    assert proc.stdout.strip() == "OPENED", proc.stderr


def test_socketpair_still_works_and_io_uring_does_not():
    proc = filtered("import ctypes, os, socket\nsocket.socketpair()\nprint('PAIR')\n"
                    "libc = ctypes.CDLL(None, use_errno=True)\n"
                    "print(libc.syscall(425, 8, ctypes.create_string_buffer(120)), os.strerror(ctypes.get_errno()))\n")
    assert proc.stdout.split("\n")[:2] == ["PAIR", "-1 Permission denied"], (proc.stdout, proc.stderr)


def test_processes_it_starts_keep_the_filter():
    proc = filtered("import subprocess\nprint(subprocess.run(['bash', '-c', 'echo > /dev/tcp/127.0.0.1/80'], "
                    "capture_output=True, text=True).stderr)\n")
    assert "socket: Permission denied" in proc.stdout, (proc.stdout, proc.stderr)


@pytest.mark.skipif(not sys.platform.startswith("linux") or __import__("platform").machine() != "x86_64",
                    reason="the x32 ABI is x86_64's")
def test_a_call_through_another_abi_kills_the_process():
    """getpid (39) through the x32 ABI, a way around the native numbers, ends the process (SIGSYS)."""
    proc = filtered("import ctypes\nctypes.CDLL(None).syscall(0x40000000 | 39)\nprint('SURVIVED')\n")
    assert proc.returncode == -signal.SIGSYS and "SURVIVED" not in proc.stdout, (proc.returncode, proc.stdout)


@pytest.fixture()
def solution_server(tmp_path):
    """An HTTP server on the loopback that hands out a correct ``rnn_lm.py``."""
    (tmp_path / "rnn_lm.py").write_text(SOLUTION)
    handler = lambda *args: http.server.SimpleHTTPRequestHandler(*args, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/rnn_lm.py"
    server.shutdown()


@RUNS_THE_JUDGE
def test_a_submission_that_downloads_its_solution_scores_nothing_without_bubblewrap(solution_server, tmp_path):
    """Judged unsandboxed (as where the container gives the worker a network): the download fails
    at socket() for the loopback and for the outside, and the stubs score 0. The control: this
    process downloads the same file from the same server."""
    import urllib.request

    assert urllib.request.urlopen(solution_server, timeout=10).read().decode() == SOLUTION
    path = tmp_path / "downloader.py"
    path.write_text(downloads_its_solution([solution_server, OUTSIDE]))
    result = judge_submission(path, COURSE_KEY, mode="none", timeout=60)
    tries = [line for line in result["log"].splitlines() if line.startswith(NETWORK_PROBE_PREFIX)]
    assert len(tries) == 2 and all("failed" in t and "Permission denied" in t for t in tries), result["log"][-2000:]
    assert not any(c["passed"] for c in result["checks"].values())
    assert any(note.startswith(f"{BUILT_AT_RUN_TIME} (compile, exec)") for note in result["notes"]), result["notes"]


def test_where_the_filter_cannot_be_installed_the_submission_is_never_loaded(tmp_path):
    """Fail closed: on an architecture without a filter the worker says so in its first message and
    exits, without loading the submission (which would leave a marker file at import)."""
    from rnnjudge.protocol import read_message

    marker = tmp_path / "submission-was-loaded"
    (tmp_path / "rnn_lm.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    start = ("import platform, runpy, sys\nplatform.machine = lambda: 'sparc64'\n"
             f"sys.argv = ['worker.py', {str(tmp_path / 'rnn_lm.py')!r}]\n"
             f"runpy.run_path({str(PACKAGE / 'worker.py')!r}, run_name='__main__')\n")
    worker = subprocess.Popen([sys.executable, "-c", start], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    hello, _ = read_message(worker.stdout.fileno(), timeout=120)
    assert worker.wait(timeout=60) == 0
    assert hello["load_error"] == ("not graded: the grader could not cut its network here (no seccomp filter for "
                                   "the sparc64 architecture)"), hello
    assert not marker.exists()
