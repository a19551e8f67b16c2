"""Find a Secret's data values shown in a plan diff (or a recorded Secret object): the leak scan's structural half.

Redaction and :meth:`kubebook.runner.redact.Redactor.scan` know the values they were told
about (secret parameters, values read with ``kubebook.secrets.read_secret``). A plan diff of
a Secret shows values nobody registered: the live object and the server's dry-run answer
carry ``data`` (base64) and ``stringData`` straight from the API. The rule is that diffs,
plans and reports of Secrets show keys and hashes, never values in any encoding, so this
module reads the run's final artifacts for exactly that shape and names each key found
with a value (never the value):

* unified YAML diffs (``--- live/Secret/ns/name`` / ``+++ planned/Secret/...``, or any
  diff block showing ``kind: Secret``) as :func:`kubebook.changes.diff_objects` writes
  them, in text or HTML outputs; a hunk that starts below its ``data:`` line is placed by
  the next top-level key it shows (the dump's keys are sorted: ``data`` comes before
  ``kind``, ``stringData`` before ``type``);
* JSON values (records, application/json outputs) holding an object of ``kind: Secret``.

Values that are already value-free pass: ``***REDACTED***``, the DR plans' ``(hidden; N
bytes, keyed hash ...)`` and ``sha256:`` digests, and values shorter than 4 characters.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

from kubebook.runner.redact import MIN_LENGTH, REDACTED

SECTIONS = ("data", "stringData")
_HEADER = re.compile(r"^(?:---|\+\+\+) (?:live|planned)/(?P<key>(?P<kind>[^/\s]+)/\S*)")
_TOP = re.compile(r"^(?P<key>[A-Za-z_][\w.-]*):(?:\s|$)")
_CHILD = re.compile(r"^  (?P<key>[^\s:#][^:]*?):(?: (?P<value>.*))?$")
_BLOCK_TAGS = re.compile(r"</?(?:p|div|details|summary|pre|br|tr|td|th|li|ul|ol|table|h\d)\b[^>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
# metadata's own scalar fields: the indent-2 lines of a hunk that shows no top-level key may be these
_METADATA_SCALARS = {"name", "namespace", "generateName", "uid", "resourceVersion", "generation",
                     "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}
_AFTER = {"immutable": "data", "kind": "data", "type": "stringData", "stringData": "metadata",
          "metadata": "kind", "data": "apiVersion"}


def value_free(value: Any) -> bool:
    """True for what a plan may show in place of a Secret's value."""
    if value is None or isinstance(value, bool):
        return True
    text = str(value).strip().strip("'\"")
    return (len(text) < MIN_LENGTH or REDACTED in text or text.startswith("(hidden")
            or text.startswith("sha256:") or text in ("|", "|-", ">", ">-"))


class _Block:
    """One object's diff: its name from the header, and the (section, key, value) lines it shows."""

    def __init__(self, key: str | None, kind: str | None) -> None:
        self.key, self.secret = key, kind == "Secret"
        self.lines: list[tuple[str | None, str, str]] = []
        self.pending: list[tuple[str, str]] = []  # indent-2 lines of a hunk before any top-level key
        self.section: str | None = None
        self.block_key: str | None = None  # inside a block scalar (``key: |``) of this key

    def hunk(self) -> None:
        self._settle(None)
        self.section, self.block_key = None, None

    def _settle(self, next_top: str | None) -> None:
        section = _AFTER.get(next_top or "")
        for key, value in self.pending:
            guess = section or ("metadata" if key in _METADATA_SCALARS else "data")
            self.lines.append((guess, key, value))
        self.pending = []

    def line(self, text: str) -> None:
        if text.startswith("    ") and self.block_key is not None:
            self.lines.append((self.section, self.block_key, text.strip()))
            return
        self.block_key = None
        top = _TOP.match(text)
        if top:
            self._settle(top.group("key"))
            self.section = top.group("key")
            if self.section == "kind" and text.split(":", 1)[1].strip() == "Secret":
                self.secret = True
            return
        child = _CHILD.match(text)
        if child and child.group("value") is not None:
            key, value = child.group("key").strip().strip("'\""), child.group("value").strip()
            if value in ("|", "|-", "|+", ">", ">-", ">+"):
                self.block_key = key
            if self.section is None:
                self.pending.append((key, value))
            else:
                self.lines.append((self.section, key, value))

    def findings(self) -> Iterator[str]:
        self._settle(None)
        if not self.secret:
            return
        for section, key, value in self.lines:
            if section in SECTIONS and not value_free(value):
                yield f"{self.key or 'a Secret'}: {section} {key!r} shown in a diff"


def findings_in_text(text: str) -> list[str]:
    """Each Secret key whose value a diff in ``text`` shows (HTML is read as its text)."""
    if "<" in text and ">" in text:
        text = html.unescape(_TAGS.sub("", _BLOCK_TAGS.sub("\n", text)))
    found: list[str] = []
    block: _Block | None = None
    for raw in text.splitlines():
        header = _HEADER.match(raw)
        if header:
            if block is not None and not raw.startswith("+++"):
                found.extend(block.findings())
                block = None
            if block is None:
                block = _Block(header.group("key"), header.group("kind"))
            elif header.group("kind") == "Secret":
                block.secret, block.key = True, header.group("key")
            continue
        if block is None:
            continue
        if raw.startswith("@@"):
            block.hunk()
        elif raw[:1] in ("+", "-", " "):
            block.line(raw[1:])
        else:
            found.extend(block.findings())
            block = None
    if block is not None:
        found.extend(block.findings())
    return sorted(dict.fromkeys(found))


def findings_in_value(value: Any, _depth: int = 0) -> list[str]:
    """Each Secret key with a value in JSON-like ``value`` (recorded objects) and in the diffs of its strings."""
    found: list[str] = []
    if _depth > 64:
        return found
    if isinstance(value, str):
        return findings_in_text(value) if ("live/" in value or "planned/" in value) else []
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return findings_in_value("".join(value), _depth + 1)  # nbformat stores multi-line text as lines
    if isinstance(value, list):
        for item in value:
            found.extend(findings_in_value(item, _depth + 1))
    elif isinstance(value, dict):
        if value.get("kind") == "Secret":
            meta = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            name = f"Secret/{meta['namespace'] + '/' if meta.get('namespace') else ''}{meta.get('name', '?')}"
            for section in SECTIONS:
                entries = value.get(section) if isinstance(value.get(section), dict) else {}
                found.extend(f"{name}: {section} {key!r} recorded" for key, item in entries.items()
                             if not value_free(item))
        for item in value.values():
            found.extend(findings_in_value(item, _depth + 1))
    return sorted(dict.fromkeys(found))


def artifact_findings(artifacts: dict[str, bytes]) -> dict[str, list[str]]:
    """Findings per artifact name, for the JSON artifacts (the executed notebook and results.json).

    The HTML report is drawn from the same notebook and results, so these two cover it.
    """
    out: dict[str, list[str]] = {}
    for name, data in artifacts.items():
        if not name.endswith((".ipynb", ".json")):
            continue
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            continue
        if name.endswith(".ipynb") and isinstance(document, dict):
            document = [cell.get("outputs") for cell in document.get("cells") or [] if isinstance(cell, dict)]
        found = findings_in_value(document)
        if found:
            out[name] = found
    return out
