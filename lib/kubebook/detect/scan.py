"""The streaming scan: audit-log lines in, findings out, in constant memory.

Each file is read line by line in binary (``.gz`` rotations through gzip, recognised by their magic
bytes), a line longer than :data:`MAX_LINE_BYTES` is skipped without being held, and a line that is not
UTF-8 JSON of one object is counted as corrupt with its file and line number: a log is never a crash.
Only the stages that carry the outcome count (ResponseStarted for long-running requests such as exec,
ResponseComplete, Panic); a request seen at ResponseStarted is not reported again at ResponseComplete.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from kubebook.detect.model import SEVERITIES, Rule
from kubebook.errors import ParameterError

MAX_LINE_BYTES = 1 << 20  # 1 MiB: the API server's own request-body limit is larger, a sane event is not
STAGES = frozenset({"ResponseStarted", "ResponseComplete", "Panic"})
SEEN_STARTED = 100_000  # auditIDs remembered to dedupe ResponseStarted/ResponseComplete (bounded)
CORRUPT_EXAMPLES = 20
CANDIDATE_KEYS = 10_000  # distinct (resource, subresource, verb) remembered (bounded: names come from clients)


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    title: str
    techniques: tuple[str, ...]
    time: str | None
    user: str | None
    source_ips: tuple[str, ...]
    verb: str | None
    object: str
    message: str
    audit_id: str | None
    file: str = ""
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "title": self.title,
                "techniques": list(self.techniques), "time": self.time, "user": self.user,
                "source_ips": list(self.source_ips), "verb": self.verb, "object": self.object,
                "message": self.message, "audit_id": self.audit_id}


@dataclass
class ScanResult:
    scanned: int = 0
    corrupt: int = 0
    corrupt_examples: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"scanned": self.scanned, "corrupt": self.corrupt, "findings": [f.to_dict() for f in self.findings]}

    def at_or_above(self, severity: str) -> list[Finding]:
        floor = SEVERITIES.index(severity)
        return [f for f in self.findings if SEVERITIES.index(f.severity) >= floor]


_RELATIVE = re.compile(r"^(\d+)([smhd])$")


def parse_since(text: str, now: datetime | None = None) -> str:
    """``--since``: an RFC 3339 time or a duration back from now (``90s``, ``30m``, ``2h``, ``7d``), as the
    audit log's own timestamp form (UTC, microseconds, ``Z``) so events compare as strings."""
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        moment = (now or datetime.now(UTC)) - timedelta(**{unit: int(match.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ParameterError(f"--since {text!r} is not a time; give RFC 3339 (2026-01-31T12:00:00Z) "
                                 "or a duration back from now (30m, 2h, 7d)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _normal_time(stamp: Any) -> str | None:
    """An event time in the canonical form (the API server writes it so already; others are parsed)."""
    if not isinstance(stamp, str):
        return None
    if len(stamp) == 27 and stamp.endswith("Z"):
        return stamp
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def open_log(path: Path) -> IO[bytes]:
    """The file as bytes, through gzip when it starts with gzip's magic (a rotated ``.gz``)."""
    try:
        handle = path.open("rb")
        magic = handle.read(2)
        handle.seek(0)
    except OSError as error:
        raise ParameterError(f"--audit-log {path}: cannot be read ({error.strerror}); "
                             "give a readable audit log file (JSON lines, optionally .gz)") from None
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    return handle


def check_logs(paths: Iterable[str | Path]) -> list[Path]:
    """Every path exists and is a file, checked before anything is scanned."""
    files = [Path(p).expanduser() for p in paths]
    if not files:
        raise ParameterError("no --audit-log given; give one or more audit log files (JSON lines, optionally .gz)")
    for path in files:
        if not path.is_file():
            raise ParameterError(f"--audit-log {path}: no such file; give the API server's --audit-log-path "
                                 "(a local cluster's is ~/.local/share/kubebook/clusters/<name>/logs/audit-0.log)")
    return files


def lines(handle: IO[bytes]) -> Iterator[bytes | None]:
    """Each line's bytes, or None for a line longer than MAX_LINE_BYTES (consumed without being kept)."""
    while True:
        line = handle.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = handle.readline(MAX_LINE_BYTES)
            yield None
            continue
        yield line


def _object(ref: dict[str, Any]) -> str:
    resource = ref.get("resource") or ""
    if ref.get("subresource"):
        resource = f"{resource}/{ref['subresource']}"
    where = "/".join(x for x in (ref.get("namespace"), ref.get("name")) if x)
    return f"{resource} {where}".strip() if resource else where


class _Safe(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def make_finding(rule: Rule, event: dict[str, Any], file: str = "", line: int = 0) -> Finding:
    user = (event.get("user") or {}).get("username")
    ips = tuple(str(ip) for ip in (event.get("sourceIPs") or []) if isinstance(ip, str))
    obj = _object(event.get("objectRef") or {}) or str(event.get("requestURI") or "")
    impersonated = (event.get("impersonatedUser") or {}).get("username")
    fields = _Safe(user=user or "?", source_ips=",".join(ips) or "?", verb=event.get("verb") or "?",
                   object=obj or "?", impersonated=impersonated or "?")
    return Finding(rule=rule.id, severity=rule.severity, title=rule.title, techniques=rule.techniques,
                   time=event.get("stageTimestamp") or event.get("requestReceivedTimestamp"), user=user,
                   source_ips=ips, verb=event.get("verb"), object=obj,
                   message=rule.message.format_map(fields), audit_id=event.get("auditID"), file=file, line=line)


class Scanner:
    """Rules over events, one event at a time; the state is the counters and a bounded dedupe set."""

    def __init__(self, rules: Iterable[Rule], since: str | None = None) -> None:
        self.rules = list(rules)
        self.since = since
        # the rules an event can match, by (resource, subresource, verb): most events try none
        self._candidates: dict[tuple[Any, Any, Any], list[Rule]] = {}
        self.result = ScanResult()
        self._started: OrderedDict[str, None] = OrderedDict()

    def _corrupt(self, where: str, why: str) -> None:
        self.result.corrupt += 1
        if len(self.result.corrupt_examples) < CORRUPT_EXAMPLES:
            self.result.corrupt_examples.append(f"{where}: {why}")

    def event(self, event: dict[str, Any], file: str = "", line: int = 0) -> Iterator[Finding]:
        self.result.scanned += 1
        stage = event.get("stage")
        if stage not in STAGES:
            return
        if self.since is not None:
            when = _normal_time(event.get("stageTimestamp") or event.get("requestReceivedTimestamp"))
            if when is None or when < self.since:
                return
        audit_id = event.get("auditID")
        if stage == "ResponseStarted" and isinstance(audit_id, str):
            self._started[audit_id] = None
            if len(self._started) > SEEN_STARTED:
                self._started.popitem(last=False)
        elif stage == "ResponseComplete" and audit_id in self._started:
            self._started.pop(audit_id, None)
            return
        ref = event.get("objectRef")
        if isinstance(ref, dict):
            key = (ref.get("resource"), ref.get("subresource") or "", event.get("verb"))
        else:
            key = (None, "", event.get("verb"))
        candidates = self._candidates.get(key)
        if candidates is None:
            candidates = [r for r in self.rules if r.may_match(*key)]
            if len(self._candidates) < CANDIDATE_KEYS:
                self._candidates[key] = candidates
        for rule in candidates:
            if rule.matches(event):
                yield make_finding(rule, event, file, line)

    def file(self, path: Path) -> Iterator[Finding]:
        name = str(path)
        self.result.files.append(name)
        with open_log(path) as handle:
            number = 0
            try:
                for raw in lines(handle):
                    number += 1
                    if raw is None:
                        self._corrupt(f"{name}:{number}", f"line longer than {MAX_LINE_BYTES} bytes")
                        continue
                    if not raw.strip():
                        continue
                    try:
                        event = json.loads(raw)
                    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
                        self._corrupt(f"{name}:{number}", f"not UTF-8 JSON ({type(error).__name__})")
                        continue
                    if not isinstance(event, dict):
                        self._corrupt(f"{name}:{number}", "not a JSON object")
                        continue
                    yield from self.event(event, name, number)
            except (OSError, EOFError) as error:  # a truncated or damaged .gz: the rest cannot be read
                self._corrupt(f"{name}:{number + 1}", f"the file cannot be read further ({error})")


def scan(paths: Iterable[str | Path], rules: Iterable[Rule], since: str | None = None) -> ScanResult:
    """Scan the files in order; the findings are kept, the events are not."""
    scanner = Scanner(rules, since)
    for path in check_logs(paths):
        scanner.result.findings.extend(scanner.file(path))
    return scanner.result
