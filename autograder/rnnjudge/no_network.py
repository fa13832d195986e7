"""The worker gives up the network for good, before it loads a submission, on every route.

bubblewrap gives the worker a network namespace with nothing in it, but otter grade's and
Gradescope's containers run it as ``nobody`` with whatever network the container has (both have
one by default). So the worker itself installs a seccomp filter, which needs no privilege once it
has set ``no_new_privs``, and which neither it nor anything it starts can ever remove:

* ``socket()`` fails with EACCES for every address family. The worker talks to the judge over
  pipes and needs no socket; the internet families (AF_INET, AF_INET6) are the network, AF_PACKET
  and AF_NETLINK reach the interfaces, and AF_UNIX could reach a daemon's socket in the container.
  ``socketpair()`` stays: it only joins two ends inside the process (multiprocessing uses it).
* ``io_uring_setup()`` fails with EACCES: io_uring opens and connects sockets without ``socket()``.
* A system call made through another ABI than the native one (32-bit ``int 0x80`` on x86_64, the
  x32 ABI) kills the process: the filter's numbers are the native ABI's, so any other way in
  could only be a way around them.

``SECCOMP_FILTER_FLAG_TSYNC`` puts the filter on every thread of the process (PyTorch may have
started some). Only this module's ``give_up_the_network`` is called, by the worker, as the first
thing it does; the judge never imports it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
from dataclasses import dataclass

PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1

# Classic BPF, as seccomp runs it on ``struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6];}``.
BPF_LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JUMP_IF_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JUMP_IF_AT_LEAST = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_RETURN = 0x06  # BPF_RET | BPF_K
OFFSET_NR, OFFSET_ARCH = 0, 4

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
REFUSE = SECCOMP_RET_ERRNO | errno.EACCES

X32_SYSCALL_BIT = 0x40000000


@dataclass(frozen=True)
class Architecture:
    audit_arch: int  # AUDIT_ARCH_*: what seccomp_data.arch holds for a call through the native ABI
    seccomp: int  # the seccomp() system call's number
    refused: dict[str, int]  # name -> number of the calls that fail with EACCES
    has_x32: bool  # x86_64's x32 ABI: the same audit arch, numbers with X32_SYSCALL_BIT set


# The native ABI's system call numbers (Linux's unistd tables; io_uring_setup has one number everywhere).
ARCHITECTURES = {
    "x86_64": Architecture(audit_arch=0xC000003E, seccomp=317, refused={"socket": 41, "io_uring_setup": 425},
                           has_x32=True),
    "aarch64": Architecture(audit_arch=0xC00000B7, seccomp=277, refused={"socket": 198, "io_uring_setup": 425},
                            has_x32=False),
}


class NetworkNotGivenUp(OSError):
    """The filter could not be installed here; the worker must then not load the submission."""


def instruction(code: int, k: int, if_true: int = 0, if_false: int = 0) -> bytes:
    return struct.pack("=HBBI", code, if_true, if_false, k)


def filter_program(arch: Architecture) -> bytes:
    """The BPF program: another ABI is killed, the refused calls fail with EACCES, the rest is allowed."""
    program = [instruction(BPF_LOAD_WORD, OFFSET_ARCH),
               instruction(BPF_JUMP_IF_EQUAL, arch.audit_arch, if_true=1),
               instruction(BPF_RETURN, SECCOMP_RET_KILL_PROCESS),
               instruction(BPF_LOAD_WORD, OFFSET_NR)]
    if arch.has_x32:
        program += [instruction(BPF_JUMP_IF_AT_LEAST, X32_SYSCALL_BIT, if_false=1),
                    instruction(BPF_RETURN, SECCOMP_RET_KILL_PROCESS)]
    for number in arch.refused.values():
        program += [instruction(BPF_JUMP_IF_EQUAL, number, if_false=1), instruction(BPF_RETURN, REFUSE)]
    return b"".join(program + [instruction(BPF_RETURN, SECCOMP_RET_ALLOW)])


def give_up_the_network() -> None:
    """Install the filter on this process and all its threads; raises ``NetworkNotGivenUp`` if it cannot."""
    arch = ARCHITECTURES.get(platform.machine())
    if arch is None:
        raise NetworkNotGivenUp(f"no seccomp filter for the {platform.machine()} architecture")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise NetworkNotGivenUp(f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(ctypes.get_errno())}")
    code = filter_program(arch)
    instructions = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    program = SockFprog(len(code) // 8, ctypes.addressof(instructions))
    result = libc.syscall(ctypes.c_long(arch.seccomp), ctypes.c_long(SECCOMP_SET_MODE_FILTER),
                          ctypes.c_long(SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(program))
    if result != 0:  # -1 and errno, or the id of a thread that could not be synchronised
        why = os.strerror(ctypes.get_errno()) if result < 0 else f"thread {result} could not take the filter"
        raise NetworkNotGivenUp(f"seccomp(SECCOMP_SET_MODE_FILTER): {why}")
