"""Warm kernels: Python processes that import ipykernel ahead of time and become a run's kernel.

Most of a small notebook's run is its kernel starting: a fresh interpreter
importing IPython, zmq and tornado (about 0.8 s here, against 0.05 s for the
cells). While the scheduler works through a suite, a :class:`WarmKernelPool`
keeps ``ready`` such processes importing in the background; each waits on its
stdin for one instruction. When the runner starts a kernel, the
:class:`WarmProvisioner` (a jupyter_client ``LocalProvisioner``) hands a waiting
process the run's exact launch - connection file, environment, working
folder, output file - and that process becomes the kernel.

Each warm process serves exactly one run and is never reused, so nothing leaks
between runs. Anything unusual falls back to an ordinary cold launch: another
interpreter or kernel command, output not going to one named file, interpreter
start-up variables (``PYTHON*``, ``LD_*``) that differ from the pool's, or no
warm process left. The provisioner is only the default while a pool is active
in this process; kernelspecs that name their own provisioner are untouched.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from jupyter_client.provisioning.factory import KernelProvisionerFactory

log = logging.getLogger(__name__)

NAME = "kubebook-warm"
# The program a warm process runs: import what ipykernel_launcher imports, wait for the launch, become it.
BOOT = r"""
import sys
if sys.path and sys.path[0] == "":
    del sys.path[0]
import json, os
from ipykernel import kernelapp
line = sys.stdin.readline()
if not line:
    raise SystemExit(0)
spec = json.loads(line)
os.chdir(spec["cwd"])
os.environ.clear()
os.environ.update(spec["env"])
fd = os.open(spec["stdio"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
os.dup2(fd, 1)
os.dup2(fd, 2)
os.close(fd)
sys.argv = [spec["argv0"], *spec["argv"]]
del json, os, line, spec, fd
kernelapp.launch_new_instance()
"""
STARTUP_PREFIXES = ("PYTHON", "LD_")

_lock = threading.Lock()
_pools: list[WarmKernelPool] = []
_previous_default: str | None = None


class WarmKernelPool:
    """Up to ``ready`` idle warm processes at a time, and at most ``budget`` started in all."""

    def __init__(self, ready: int, budget: int) -> None:
        self.ready = max(0, ready)
        self.budget = max(0, budget)
        self.started = 0
        self.handed_out = 0
        self.handed_pids: list[int] = []  # the kernels handed out, for whoever must see them gone
        self._idle: deque[subprocess.Popen[bytes]] = deque()
        self._env = dict(os.environ)
        self._lock = threading.Lock()

    def fill(self) -> None:
        with self._lock:
            while len(self._idle) < self.ready and self.started < self.budget:
                self._idle.append(self._spawn())

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.started += 1
        return subprocess.Popen([sys.executable, "-c", BOOT], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True, env=self._env)

    def eligible(self, cmd: list[str], kwargs: dict[str, Any]) -> str | None:
        """The output file of a launch this pool can serve, or None when it must launch cold."""
        if cmd[:3] != [sys.executable, "-m", "ipykernel_launcher"]:
            return None
        stdout, stderr = kwargs.get("stdout"), kwargs.get("stderr")
        name = getattr(stdout, "name", None)
        if stdout is None or stdout is not stderr or not isinstance(name, str) or not Path(name).is_file():
            return None
        env = kwargs.get("env") or {}
        startup = {k: v for k, v in env.items() if k.startswith(STARTUP_PREFIXES)}
        if startup != {k: v for k, v in self._env.items() if k.startswith(STARTUP_PREFIXES)}:
            return None
        return name

    def take(self, cmd: list[str], kwargs: dict[str, Any]) -> subprocess.Popen[bytes] | None:
        """A warm process already told to become the kernel ``cmd`` describes, or None."""
        stdio = self.eligible(cmd, kwargs)
        if stdio is None:
            return None
        with self._lock:
            process = None
            while self._idle and process is None:
                candidate = self._idle.popleft()
                process = candidate if candidate.poll() is None else None
            if process is None:
                return None
            if self.started < self.budget:
                self._idle.append(self._spawn())
        env = {**(kwargs.get("env") or os.environ), "JPY_PARENT_PID": str(os.getpid())}
        cwd = str(kwargs.get("cwd") or os.getcwd())
        launch = {"argv0": _launcher_path(), "argv": cmd[3:], "env": env, "cwd": cwd, "stdio": stdio}
        assert process.stdin is not None
        try:
            process.stdin.write((json.dumps(launch) + "\n").encode())
            process.stdin.close()
        except OSError:
            process.kill()
            return None
        self.handed_out += 1
        self.handed_pids.append(process.pid)
        return process

    def close(self) -> None:
        """Stop the idle processes (they exit on end of input; killed if they do not)."""
        with self._lock:
            idle, self._idle = list(self._idle), deque()
        for process in idle:
            try:
                assert process.stdin is not None
                process.stdin.close()
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()


def _launcher_path() -> str:
    """The file ``python -m ipykernel_launcher`` runs, which a kernel sees as ``sys.argv[0]``."""
    from importlib.util import find_spec

    spec = find_spec("ipykernel_launcher")
    return spec.origin if spec and spec.origin else "ipykernel_launcher"


class WarmProvisioner(LocalProvisioner):  # type: ignore[misc]
    """A LocalProvisioner that launches by handing over a warm process when an active pool has one."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        with _lock:
            pools = list(_pools)
        for pool in pools:
            process = pool.take(cmd, kwargs)
            if process is not None:
                self.process = process
                self.pid = process.pid
                try:
                    self.pgid = os.getpgid(process.pid)
                except OSError:
                    self.pgid = None
                self.cwd = kwargs.get("cwd", Path.cwd())
                return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)


@contextmanager
def warm_kernels(ready: int, budget: int) -> Iterator[WarmKernelPool]:
    """Make warm kernels the default launch in this process while the block runs."""
    global _previous_default
    pool = WarmKernelPool(ready, budget)
    factory = KernelProvisionerFactory.instance()
    with _lock:
        if not _pools:
            from importlib.metadata import EntryPoint

            factory.provisioners[NAME] = EntryPoint(name=NAME, value=f"{__name__}:WarmProvisioner",
                                                    group=KernelProvisionerFactory.GROUP_NAME)
            _previous_default = factory.default_provisioner_name
            factory.default_provisioner_name = NAME
        _pools.append(pool)
    pool.fill()
    try:
        yield pool
    finally:
        with _lock:
            _pools.remove(pool)
            if not _pools and _previous_default is not None:
                factory.default_provisioner_name = _previous_default
        pool.close()
        log.debug("warm kernels: %d started, %d used", pool.started, pool.handed_out)
