"""The kernel of one run: its environment, its output streams and a way to kill it.

nbclient builds its kernel manager from a class; the class made here starts the
kernel with the run's extra environment (``KUBEBOOK_KUBECONFIG``,
``KUBEBOOK_SECRET_SINK``), sends the kernel process's own stdout/stderr to a
private file instead of the terminal (a C library printing a secret must not
reach a log), and tells a :class:`KernelWatch` the process group, so that a
whole-run timeout can SIGKILL the kernel and everything it started. nbclient
then notices the dead kernel within a second and the run ends: it cannot hang.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any


class KernelWatch:
    """Holds the kernel's process ids and kills them when the run's deadline passes or a signal stops it."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.pgid: int | None = None
        self.expired = threading.Event()
        self.interrupted: int | None = None  # the signal number that stopped the run
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def started(self, pid: int | None, pgid: int | None) -> None:
        with self._lock:
            self.pid, self.pgid = pid, pgid
        if self.expired.is_set() or self.interrupted:  # stopped while the kernel was starting
            self.kill()

    def interrupt(self, signum: int) -> None:
        """A signal asked the run to stop: kill the kernel; the run then ends as interrupted."""
        if self.interrupted is None:
            self.interrupted = signum
        self.kill()

    def kill(self) -> None:
        """SIGKILL the kernel's process group (its own process if the group is unknown)."""
        with self._lock:
            pid, pgid = self.pid, self.pgid
        try:
            if pgid and pgid != os.getpgid(0):
                os.killpg(pgid, signal.SIGKILL)
            elif pid:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def expire(self) -> None:
        self.expired.set()
        self.kill()

    def arm(self, seconds: float | None) -> None:
        """Start the whole-run deadline (None or 0: no deadline)."""
        if seconds:
            self._timer = threading.Timer(seconds, self.expire)
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def kernel_manager_class(env: dict[str, str], cwd: Path, stdio: Path, watch: KernelWatch) -> type:
    """An AsyncKernelManager subclass bound to this run's environment, cwd, output file and watch."""
    from jupyter_client.manager import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):  # type: ignore[misc]
        async def start_kernel(self, **kw: Any) -> None:
            kw["env"] = {**os.environ, **kw.get("env", {}), **env}
            kw.setdefault("cwd", str(cwd))
            handle = open(stdio, "ab")  # noqa: SIM115 - the kernel process owns it from here on
            kw.setdefault("stdout", handle)
            kw.setdefault("stderr", handle)
            try:
                await super().start_kernel(**kw)
            finally:
                handle.close()  # the child has its own copy of the descriptor
            provisioner = self.provisioner
            watch.started(getattr(provisioner, "pid", None), getattr(provisioner, "pgid", None))

    return RunKernelManager
