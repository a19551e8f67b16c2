"""The append-only, hash-chained ledger: one JSON line per sealed run or prune.

Each entry carries ``seq`` (1, 2, ...), the SHA-256 of the previous line's exact
bytes (``prev``; 64 zeros for the first) and, for a run, the SHA-256 of every
artifact. Editing, deleting or re-ordering any line breaks the chain at a line
that :func:`chain_problems` names; changing an artifact breaks its hash.

Appending rewrites the file through temp + rename under a file lock, so
concurrent runs serialize and a crash never leaves a torn last line. (Removing
the newest entries *together with* their run folders cannot be seen from inside
the archive; ``kubebook reports verify`` prints the head hash so it can be kept
elsewhere.)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebook.fsutil import atomic_write_bytes

LEDGER = "ledger.jsonl"
LOCK = ".ledger.lock"
GENESIS = "0" * 64


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks (artifacts can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical(entry: dict[str, Any]) -> bytes:
    """The one byte form of an entry: sorted keys, no spaces, UTF-8."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Line:
    """One ledger line as stored: its number, bytes and parsed entry (None if unparsable)."""

    number: int
    raw: bytes
    entry: dict[str, Any] | None


def read_lines(path: Path) -> list[Line]:
    """Every line of the ledger, parsed where possible; a missing ledger is empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return parse_lines(data)


def parse_lines(data: bytes) -> list[Line]:
    """:func:`read_lines` for ledger bytes already read (the report server reads them through a guarded fd)."""
    lines: list[Line] = []
    for number, raw in enumerate(data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"), 1):
        try:
            entry = json.loads(raw)
        except ValueError:
            entry = None
        lines.append(Line(number, raw, entry if isinstance(entry, dict) else None))
    return lines


def entries(path: Path) -> list[dict[str, Any]]:
    """The parsed entries in order, skipping unparsable lines (verify reports those)."""
    return [line.entry for line in read_lines(path) if line.entry is not None]


def append(path: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append ``entry`` with the next ``seq`` and the previous line's hash; return it as stored.

    The caller holds the archive lock.
    """
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"  # never glue a new entry onto a hand-edited last line
    lines = existing.split(b"\n")[:-1] if existing else []
    stored = {**entry, "seq": len(lines) + 1, "prev": sha256(lines[-1]) if lines else GENESIS}
    atomic_write_bytes(path, existing + canonical(stored) + b"\n", 0o644)
    return stored


def head(path: Path) -> tuple[int, str]:
    """``(number of entries, sha256 of the last line)``: an anchor to keep outside the archive."""
    lines = read_lines(path)
    return (len(lines), sha256(lines[-1].raw) if lines else GENESIS)


def _describe(line: Line) -> str:
    entry = line.entry or {}
    what = entry.get("run_id") or entry.get("type") or "entry"
    return f"{LEDGER} line {line.number} ({what})"


def chain_problems(lines: list[Line]) -> list[str]:
    """Every line whose JSON, sequence number or previous-entry hash is wrong, by name."""
    problems: list[str] = []
    prev = GENESIS
    for line in lines:
        if line.entry is None:
            problems.append(f"{LEDGER} line {line.number}: not a valid JSON entry (edited or torn)")
        else:
            if line.entry.get("seq") != line.number:
                problems.append(f"{_describe(line)}: seq is {line.entry.get('seq')!r}, expected {line.number} "
                                "(entries were deleted or re-ordered)")
            if line.entry.get("prev") != prev:
                before = "the start of the ledger" if line.number == 1 else f"line {line.number - 1}"
                problems.append(f"{_describe(line)}: previous-entry hash does not match {before} "
                                "(an entry was modified, deleted or re-ordered)")
        prev = sha256(line.raw)
    return problems
