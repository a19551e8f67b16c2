"""One archived report as a single self-contained page: path guarded, bytes checked against the ledger.

Why the Jupyter server serves reports itself: JupyterLab opens a relative link in
its own sandboxed HTML viewer (no scripts, so plotly charts stay blank) and cannot
reach an archive outside its root at all; its ``/files`` handler has the same root
limit, and a report loads its large scripts from ``../../../../assets/`` (stored
once per archive, :mod:`kubebook.archive.assets`), which a sandboxed page's
sub-requests may not be allowed to fetch. So the page is built here in one piece:

- the path must name ``<archive>/<runbook>/<YYYY>/<MM>/<run-id>/report.html`` as
  text (absolute, no ``..``, UTF-8, at most :data:`MAX_PATH` characters), in a
  folder holding a ledger; every step below the archive root is opened without
  following a symbolic link (``O_NOFOLLOW`` relative to the folder above), so a
  link can never lead out of the archive;
- the ledger's chain must be intact, the report's bytes must hash to the run's live
  ledger entry, the run folder must hold exactly its listed artifacts with their
  hashes, and each asset it links must be listed in that entry and hash to it; no
  file may be a hard link: the page shown is one ``kubebook reports verify`` passes;
- the assets are inlined, so the page needs no sub-request, and it is sent with
  :data:`CSP` (an opaque-origin sandbox that may run only its own inline code and
  fetch nothing): a report's scripts can never talk to the Jupyter server.

Anything else is a :class:`ReportRefused` with the HTTP status to answer (404: not
a sealed report of an archive; 403: present but refused).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from pathlib import Path

from kubebook.archive import ledger
from kubebook.archive.assets import ASSETS, NAME, RUN_PREFIX
from kubebook.archive.ledger import LEDGER
from kubebook.archive.verify import RUN_DEPTH, path_problem
from kubebook.errors import ArchiveError

REPORT = "report.html"
MAX_PATH = 4096
MAX_READ = 1 << 30  # a report or asset larger than this is not one the archive wrote
CSP = ("sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data:; font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_LINKED = re.compile(
    r"<script\b[^>]*?\bsrc=\"" + re.escape(RUN_PREFIX) + r"(sha256-[0-9a-f]{64}\.js)\"[^>]*>\s*</script\s*>"
    r"|<link\b[^>]*?\bhref=\"" + re.escape(RUN_PREFIX) + r"(sha256-[0-9a-f]{64}\.css)\"[^>]*>", re.IGNORECASE)
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)


class ReportRefused(ArchiveError):
    """The requested path is not a sealed report of an archive, or it is not as sealed; nothing is served."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def split(path: str | bytes) -> tuple[str, str]:
    """``(archive root, <runbook>/<YYYY>/<MM>/<run-id>)`` of a report path, judged as text only."""
    if isinstance(path, bytes):
        try:
            path = path.decode("utf-8")
        except UnicodeDecodeError:
            raise ReportRefused(404, "the report path is not UTF-8 text") from None
    if len(path) > MAX_PATH:
        raise ReportRefused(404, f"the report path is longer than {MAX_PATH} characters")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise ReportRefused(404, "the report path is not UTF-8 text") from None
    if not path.startswith("/") or "\0" in path or "\\" in path:
        raise ReportRefused(404, f"{path!r} is not an absolute path to a report")
    parts = path.split("/")[1:]
    if any(part in ("", ".", "..") for part in parts):
        raise ReportRefused(404, f"{path!r} climbs with '..' or has empty steps")
    if len(parts) < RUN_DEPTH + 1 or parts[-1] != REPORT:
        raise ReportRefused(404, f"{path!r} is not <archive>/<runbook>/<YYYY>/<MM>/<run-id>/{REPORT}")
    root, relpath = "/" + "/".join(parts[:-RUN_DEPTH - 1]), "/".join(parts[-RUN_DEPTH - 1:-1])
    problem = path_problem(Path(root), relpath, on_disk=False)
    if problem:
        raise ReportRefused(404, problem)
    return root, relpath


def _open(name: str, flags: int, dir_fd: int | None, label: str) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as error:
        try:
            linked = stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except OSError:
            linked = False
        if linked or error.errno == errno.ELOOP:
            raise ReportRefused(403, f"{label} is a symbolic link (never followed)") from None
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            raise ReportRefused(404, f"{label} does not exist (or is not a folder)") from None
        raise ReportRefused(403, f"{label} cannot be opened: {error.strerror}") from None


def _read(dir_fd: int, name: str, label: str, *, digest_only: bool = False) -> bytes:
    """The file's bytes (or, with ``digest_only``, its SHA-256 hex as bytes, read in chunks).

    A hard link is refused like a symlink: another name, possibly outside the archive, shares its bytes.
    """
    fd = _open(name, _FILE, dir_fd, label)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_READ:
            raise ReportRefused(403, f"{label} is not a regular file the archive wrote")
        if info.st_nlink > 1:
            raise ReportRefused(403, f"{label} is a hard link (a file outside the sealed folder can change it); "
                                     "'kubebook reports verify' names it")
        with os.fdopen(os.dup(fd), "rb") as handle:
            if not digest_only:
                return handle.read(MAX_READ + 1)
            digest = hashlib.sha256()
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
            return digest.hexdigest().encode()
    finally:
        os.close(fd)


def _run_folder_problem(folder_fd: int, relpath: str, artifacts: dict) -> str | None:
    """What ``reports verify`` would say about the run folder's other files (added, deleted, modified)."""
    present = set(os.listdir(folder_fd))
    for extra in sorted(present - set(artifacts)):
        return f"{relpath}/{extra} is not in the ledger (added after sealing)"
    for name, expected in sorted(artifacts.items()):
        if name == REPORT:
            continue
        if name not in present:
            return f"{relpath}/{name} was deleted"
        if not isinstance(expected, str) or _read(folder_fd, name, f"{relpath}/{name}",
                                                  digest_only=True).decode() != expected:
            return f"{relpath}/{name} does not match the ledger"
    return None


def live_entry(ledger_bytes: bytes, relpath: str) -> dict | None:
    """The ledger's run entry for ``relpath`` unless a later prune removed it."""
    found: dict | None = None
    for raw in ledger_bytes.splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == "run" and entry.get("path") == relpath:
            found = entry
        elif entry.get("type") == "prune" and any(
                isinstance(r, dict) and r.get("path") == relpath for r in entry.get("removed") or []):
            found = None
    return found


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def report_page(path: str | bytes) -> bytes:
    """The sealed report at ``path`` with its assets inlined, as UTF-8 HTML; :class:`ReportRefused` otherwise."""
    try:
        return _report_page(path)
    except OSError as error:  # a file or folder this server may not read: a refusal in one line, not a 500
        raise ReportRefused(403, f"the report cannot be read: {error.strerror or type(error).__name__}") from None


def _report_page(path: str | bytes) -> bytes:
    root, relpath = split(path)
    fds: list[int] = []
    try:
        fds.append(_open(root, _DIR, None, f"the archive {root}"))
        root_fd = fds[0]
        ledger_bytes = _read(root_fd, LEDGER, f"{root}/{LEDGER}")
        entry = live_entry(ledger_bytes, relpath)
        if entry is None:
            raise ReportRefused(404, f"{relpath} is not a run in the ledger of {root}")
        broken = ledger.chain_problems(ledger.parse_lines(ledger_bytes))
        if broken:
            raise ReportRefused(403, f"the ledger of {root} is not intact ({len(broken)} problem(s), first: "
                                     f"{broken[0]}); 'kubebook reports verify' lists them")
        for step, part in enumerate(relpath.split("/")):
            fds.append(_open(part, _DIR, fds[-1], "/".join(relpath.split("/")[:step + 1])))
        report = _read(fds[-1], REPORT, f"{relpath}/{REPORT}")
        artifacts = entry.get("artifacts") if isinstance(entry.get("artifacts"), dict) else {}
        expected = artifacts.get(REPORT)
        if not isinstance(expected, str) or _sha256(report) != expected:
            raise ReportRefused(403, f"{relpath}/{REPORT} does not match the ledger (check it with "
                                     "'kubebook reports verify')")
        problem = _run_folder_problem(fds[-1], relpath, artifacts)
        if problem:
            raise ReportRefused(403, f"{problem} (check it with 'kubebook reports verify')")
        listed = entry.get("assets") if isinstance(entry.get("assets"), dict) else {}
        bodies: dict[str, str] = {}
        names = {m.group(1) or m.group(2) for m in _LINKED.finditer(report.decode("utf-8", "replace"))}
        if names:
            fds.append(_open(ASSETS, _DIR, root_fd, f"{root}/{ASSETS}"))
        for name in sorted(names):
            digest = listed.get(name)
            if not NAME.match(name) or digest != name[len("sha256-"):].rsplit(".", 1)[0]:
                raise ReportRefused(403, f"{relpath} links {ASSETS}/{name}, which its ledger entry does not list")
            data = _read(fds[-1], name, f"{ASSETS}/{name}")
            if _sha256(data) != digest:
                raise ReportRefused(403, f"{ASSETS}/{name} does not match the ledger (check it with "
                                         "'kubebook reports verify')")
            try:
                bodies[name] = data.decode("utf-8")
            except UnicodeDecodeError:
                raise ReportRefused(403, f"{ASSETS}/{name} is not UTF-8 text (a report's scripts and styles "
                                         "are)") from None
    finally:
        for fd in reversed(fds):
            os.close(fd)
    try:
        text = report.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportRefused(403, f"{relpath}/{REPORT} is not UTF-8 HTML") from None

    def inline(match: re.Match[str]) -> str:
        if match.group(1):
            return '<script charset="utf-8">' + bodies[match.group(1)] + "</script>"
        return "<style>" + bodies[match.group(2)] + "</style>"

    return _LINKED.sub(inline, text).encode("utf-8")
