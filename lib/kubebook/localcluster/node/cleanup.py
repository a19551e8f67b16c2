"""Find and remove what a real node leaves on the host: container processes, shims, mounts, cgroups.

Each finder is also what the tests use to prove ``cluster down`` left nothing behind, so "what
is left" and "what is removed" can never disagree. Everything is found by where it lives (the
node's folder, the node's cgroup root, the node's containerd socket), never by a process name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from kubebook.localcluster.node.layout import CGROUP_ROOT

CGROUP_MOUNT = Path("/sys/fs/cgroup")


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root`` (from /proc/self/mountinfo), deepest first."""
    prefix = str(root.resolve())
    points = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) > 4:
            point = fields[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return sorted(set(points), key=lambda p: (-p.count("/"), p))


def unmount_all(root: Path) -> list[str]:
    """Unmount everything under ``root`` (lazily when busy); return what was unmounted."""
    done = []
    for _ in range(3):
        points = mounts_under(root)
        if not points:
            break
        for point in points:
            result = subprocess.run(["umount", point], capture_output=True, check=False)
            if result.returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True, check=False)
            done.append(point)
    return done


def cgroup_dirs() -> list[Path]:
    """The node's cgroup folders in every hierarchy (v1 controllers and the v2 tree), deepest first."""
    found: list[Path] = []
    if not CGROUP_MOUNT.is_dir():
        return found
    for hierarchy in CGROUP_MOUNT.iterdir():
        top = hierarchy / CGROUP_ROOT.lstrip("/")
        if top.is_dir():
            found += [Path(folder) for folder, _, _ in os.walk(top)]
    direct = CGROUP_MOUNT / CGROUP_ROOT.lstrip("/")
    if (CGROUP_MOUNT / "cgroup.controllers").is_file() and direct.is_dir():
        found += [Path(folder) for folder, _, _ in os.walk(direct)]
    return sorted(set(found), key=lambda p: (-len(p.parts), str(p)))


def create_cgroup_root() -> list[str]:
    """The kubelet's cgroupRoot in every mounted hierarchy (it must exist before the kubelet starts)."""
    made = []
    for hierarchy in sorted(CGROUP_MOUNT.iterdir()) if CGROUP_MOUNT.is_dir() else []:
        if not (hierarchy / "cgroup.procs").exists():
            continue
        top = hierarchy / CGROUP_ROOT.lstrip("/")
        if not top.is_dir():
            top.mkdir()
            made.append(str(top))
        for name in ("cpuset.cpus", "cpuset.mems"):  # a v1 cpuset child starts empty: inherit the parent's
            child, parent = top / name, hierarchy / name
            if child.exists() and not child.read_text().strip():
                child.write_text(parent.read_text())
    return made


def cgroup_pids() -> set[int]:
    pids: set[int] = set()
    for folder in cgroup_dirs():
        with contextlib.suppress(OSError):
            pids.update(int(pid) for pid in (folder / "cgroup.procs").read_text().split())
    return pids


def kill_cgroup_processes(timeout: float = 10.0) -> int:
    """SIGKILL every process in the node's cgroups until none is left; return how many were killed."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = cgroup_pids()
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        time.sleep(0.2)
    return len(killed)


def remove_cgroups() -> list[str]:
    removed = []
    for folder in cgroup_dirs():
        with contextlib.suppress(OSError):
            folder.rmdir()
            removed.append(str(folder))
    return removed


def shim_pids(socket: Path) -> list[int]:
    """containerd shims serving our containerd (their argv names its socket address)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"containerd-shim-runc-v2") and str(socket).encode() in argv:
            pids.append(int(entry.name))
    return pids


def kill_pids(pids: list[int], timeout: float = 5.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        for pid in pids:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def remove_empty_run_dirs(root: Path = Path("/run/containerd")) -> list[str]:
    """containerd's shims put their sockets under /run/containerd/s whatever the config says; remove the
    folders left there once empty, unless a host containerd lives there (its socket is in that folder)."""
    if not root.is_dir() or (root / "containerd.sock").exists():
        return []
    removed = []
    for folder, _, _ in sorted(os.walk(root), key=lambda item: -item[0].count("/")):
        with contextlib.suppress(OSError):
            Path(folder).rmdir()
            removed.append(folder)
    return removed
