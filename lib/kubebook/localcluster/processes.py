"""Start, identify and stop the control plane's processes.

A process is recorded by pid *and* argv; before a pid is signalled we check that
``/proc/<pid>/cmdline`` still shows the same binary, so a recycled pid never gets
killed by mistake. Each process runs in its own session with its output appended
to ``logs/<component>.log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class ProcessRecord:
    """What we know about one started component."""

    component: str
    pid: int
    argv: list[str]
    log: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_alive(record: ProcessRecord) -> bool:
    """True when the pid runs the same binary we started (and is not a zombie)."""
    argv = cmdline(record.pid)
    if not argv or argv[0] != record.argv[0]:
        return False
    try:
        state = Path(f"/proc/{record.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def start(component: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None) -> ProcessRecord:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{component}.log"
    with log_path.open("ab") as log:
        log.write(f"\n===== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {component}\n".encode())
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env={**os.environ, **(env or {})})
    record = ProcessRecord(component=component, pid=process.pid, argv=argv, log=str(log_path))
    # /proc/<pid>/cmdline can lag the exec for a moment; wait until it names our binary so that
    # is_alive() never mistakes a process that is just starting for a dead one.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and process.poll() is None:
        current = cmdline(process.pid)
        if current and current[0] == argv[0]:
            break
        time.sleep(0.01)
    return record


def stop(record: ProcessRecord, grace_seconds: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``grace_seconds``; True if the process was running."""
    if not is_alive(record):
        _reap(record.pid)
        return False
    try:
        os.kill(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not is_alive(record):
            return True
        time.sleep(0.1)
    try:
        os.kill(record.pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    for _ in range(50):
        _reap(record.pid)
        if not is_alive(record):
            break
        time.sleep(0.1)
    return True


def _reap(pid: int) -> None:
    """Collect an exited child of ours so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(hosts: tuple[str, ...] = ("127.0.0.1",), avoid: set[int] | None = None) -> int:
    """A port that is free on every one of ``hosts`` (the HA members share port numbers)."""
    avoid = avoid or set()
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid and not any(port_in_use(host, port) for host in hosts):
            return port
    raise OSError("no free port found on " + ", ".join(hosts))


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
