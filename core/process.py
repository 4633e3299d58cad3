"""Which process owns a piece of work (an owner token, whether its process still runs), and
how the process's OpenMP threads wait.

A token is ``host:pid:start``, where ``start`` is the process's start time as the kernel
counts it (``/proc/<pid>/stat``), so a pid reused by a later process is not mistaken for
the owner. Work claimed on another host cannot be checked from here: it counts as live
until it is ``FOREIGN_CLAIM_S`` old.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
from collections.abc import Callable, Iterator

FOREIGN_CLAIM_S = 6 * 3600.0  # a claim made on another host is taken over after this long


def _start_time(pid: int) -> str:
    """The kernel's start time of ``pid`` ('' where /proc is not available)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces
    return fields[19] if len(fields) > 19 else ""


@functools.cache
def _host() -> str:
    return socket.gethostname()


def owner_token() -> str:
    """This process's owner token (``host:pid:start``)."""
    pid = os.getpid()
    return f"{_host()}:{pid}:{_start_time(pid)}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # runs, as another user
        return True
    return True


def _split(token: str) -> tuple[str, str, str]:
    """(host, pid, start) of a token; the host name may itself hold colons."""
    head, _, start = token.rpartition(":")
    host, _, pid = head.rpartition(":")
    return host, pid, start


def owner_pid(token: str | None) -> int | None:
    """The pid in a token, if it is one."""
    if not token:
        return None
    pid = _split(token)[1]
    return int(pid) if pid.isdigit() else None


def owner_alive(token: str | None, age_s: float = 0.0) -> bool:
    """Whether the process that wrote ``token`` may still be working.

    Args:
        token: an :func:`owner_token`, or None (no owner: not alive).
        age_s: how long ago the token was written; a foreign host's claim lapses after
            ``FOREIGN_CLAIM_S``.
    """
    if not token:
        return False
    host, pid_text, start = _split(token)
    if host != _host():
        return age_s < FOREIGN_CLAIM_S
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if not pid_alive(pid):
        return False
    return not start or _start_time(pid) in ("", start)


def passive_openmp_waits() -> None:
    """Idle OpenMP threads sleep instead of spinning, unless the user set ``OMP_WAIT_POLICY``.

    torch and FAISS each bring their own OpenMP runtime, whose idle threads spin by default.
    On a busy machine, threads spinning at a barrier take the cores the threads they wait for
    need: a single garment's forward pass measured 0.09 s with sleeping waits against 0.9-4.8 s
    spinning (2-core VM, load 15; bench/bench_openmp_wait.py). Takes effect only when called
    before torch or FAISS is imported (the CLI and the app do, first thing).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@contextlib.contextmanager
def threads_set(count: int, get: Callable[[], int], put: Callable[[int], None]) -> Iterator[None]:
    """A thread count (read by ``get``, set by ``put``) set to ``count`` inside the block and put
    back after it; 0 leaves it as it is."""
    if count <= 0:
        yield
        return
    before = get()
    put(count)
    try:
        yield
    finally:
        put(before)
