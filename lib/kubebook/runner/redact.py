"""Redact secret values from a run's artifacts, then scan every byte for what slipped through.

Two layers, deliberately unequal:

* :meth:`Redactor.redact` rewrites strings in the notebook structure (sources,
  outputs, metadata, parameters) before anything is serialized. It replaces every
  form the runner itself or a common display writes a value in: raw; as papermill
  injects it (``unicode_escape`` with ``\\"``); Python ``repr``/``ascii``; JSON
  (with and without ``ensure_ascii``); HTML-escaped (with and without quotes, as
  the runner's own error banner escapes a message); whole-value base64 (standard
  and URL-safe, padded or not); and the *head or tail of a long secret* as a
  display truncates it (pandas shows the first 46 characters and ``...``,
  ``reprlib`` the first 13 and last 14).
* :meth:`Redactor.scan` looks at the final bytes of each artifact for all of
  those plus forms that cannot be rewritten safely: hex, and base64 *embedded at
  any offset* inside a longer base64 string (a value inside an image's base64
  would corrupt the image). Finding one fails the run as ``leaked`` and the
  artifact goes to quarantine.

Rules, in numbers:

* Values shorter than :data:`MIN_LENGTH` (4) characters are neither redacted nor
  scanned: "yes" or "80" occur everywhere and hiding them protects nothing.
* A secret that is not a string (a list, a mapping, a number) is redacted leaf by
  leaf: every string and number inside it is a secret value of its own.
* Heads and tails: for a secret of at least :data:`MIN_TRUNCATED` (16)
  characters, any run of at least :data:`MIN_PREFIX` (12) of its leading or
  trailing characters is redacted wherever it occurs (raw, JSON- or HTML-escaped).
  Twelve characters of a random token carry 70 bits or more, so unrelated text
  practically never matches, while the 4 to 8 characters a display could leave
  shown after them are too few to rebuild a 16-character secret from. The price:
  a secret starting with common text (a URL) also hides that text elsewhere.

Every form is searched with ``str.find`` (no regular expression over megabytes
of chart output) and overlapping matches are merged into one ``***REDACTED***``.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Iterator
from typing import Any

MIN_LENGTH = 4
MIN_TRUNCATED = 16
MIN_PREFIX = 12
MIN_EMBEDDED_BASE64 = 8  # shorter offset-base64 cores would match random image data
REDACTED = "***REDACTED***"


def secret_leaves(value: Any) -> Iterator[str]:
    """Every string and number inside a secret value, as text (booleans and null are not secrets)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        yield repr(value) if isinstance(value, float) else str(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from secret_leaves(item)
            del key  # keys are names, not secrets
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from secret_leaves(item)


def _papermill(value: str) -> str:
    """The string literal papermill's Python translator writes, without its quotes."""
    return value.encode("unicode_escape").decode("utf-8").replace('"', r"\"")


def text_forms(value: str) -> dict[str, str]:
    """Every textual form of ``value`` the runner or a display writes, by label."""
    return {
        "raw": value,
        "JSON-escaped": json.dumps(value, ensure_ascii=False)[1:-1],
        "JSON-escaped (ASCII)": json.dumps(value)[1:-1],
        "HTML-escaped": html.escape(value),
        "HTML-escaped (no quotes)": html.escape(value, quote=False),
        "papermill-escaped": _papermill(value),
        "Python repr": repr(value)[1:-1],
        "Python ascii": ascii(value)[1:-1],
    }


def _b64_forms(raw: bytes) -> list[str]:
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return [std, std.rstrip("="), url, url.rstrip("=")]


def embedded_base64(raw: bytes) -> dict[str, str]:
    """The stable core of ``raw``'s base64 at each of the 3 byte offsets it can start at.

    Inside a longer base64 string a value starting at offset 1 or 2 (mod 3) shares
    its first characters with the bytes before it and its last with the bytes after;
    what remains is the same whatever surrounds it.
    """
    cores: dict[str, str] = {}
    for offset, skip in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\0" * offset + raw).decode().rstrip("=")
        core = encoded[skip:]
        if (offset + len(raw)) % 3:
            core = core[:-1]
        for label, text in ((f"base64 at offset {offset}", core),
                            (f"url-safe base64 at offset {offset}", core.replace("+", "-").replace("/", "_"))):
            if len(text) >= MIN_EMBEDDED_BASE64:
                cores[label] = text
    return cores


def _truncatable(value: str) -> dict[str, str]:
    """The forms whose heads and tails a display can show: raw, JSON- and HTML-escaped."""
    forms = text_forms(value)
    return {k: forms[k] for k in ("raw", "JSON-escaped", "HTML-escaped", "HTML-escaped (no quotes)")}


def _spans(text: str, needle: str) -> Iterator[int]:
    start = text.find(needle)
    while start != -1:
        yield start
        start = text.find(needle, start + 1)


class Redactor:
    """Knows a run's secret values; redacts them from structures and finds them in bytes."""

    def __init__(self, values: Iterable[Any]) -> None:
        leaves = {leaf for value in values for leaf in secret_leaves(value)}
        self.values = sorted((v for v in leaves if len(v) >= MIN_LENGTH), key=len, reverse=True)
        forms: set[str] = set()
        heads: set[str] = set()
        tails: set[str] = set()
        for value in self.values:
            forms.update(text_forms(value).values())
            forms.update(_b64_forms(value.encode()))
            if len(value) >= MIN_TRUNCATED:
                for form in _truncatable(value).values():
                    heads.add(form)
                    tails.add(form)
        self._forms = sorted((f for f in forms if len(f) >= MIN_LENGTH), key=len, reverse=True)
        self._heads = sorted(heads, key=len, reverse=True)
        self._tails = sorted(tails, key=len, reverse=True)
        self._needles = self._scan_forms()

    def __bool__(self) -> bool:
        return bool(self.values)

    def _matches(self, text: str) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        for form in self._forms:
            found.extend((start, start + len(form)) for start in _spans(text, form))
        for form in self._heads:  # a display's cut: the form's first MIN_PREFIX characters or more
            for start in _spans(text, form[:MIN_PREFIX]):
                end = start + MIN_PREFIX
                while end < len(text) and end - start < len(form) and text[end] == form[end - start]:
                    end += 1
                found.append((start, end))
        for form in self._tails:  # the same from the other end (reprlib keeps head and tail)
            for start in _spans(text, form[-MIN_PREFIX:]):
                end = start + MIN_PREFIX
                begin = start
                offset = len(form) - MIN_PREFIX
                while begin > 0 and offset > 0 and text[begin - 1] == form[offset - 1]:
                    begin, offset = begin - 1, offset - 1
                found.append((begin, end))
        return found

    def redact_text(self, text: str) -> str:
        if not self.values or not text:
            return text
        spans = sorted(self._matches(text))
        if not spans:
            return text
        parts: list[str] = []
        position = 0
        current_start, current_end = spans[0]
        for start, end in spans[1:]:
            if start <= current_end:
                current_end = max(current_end, end)
                continue
            parts += [text[position:current_start], REDACTED]
            position = current_end
            current_start, current_end = start, end
        parts += [text[position:current_start], REDACTED, text[current_end:]]
        return "".join(parts)

    def redact(self, obj: Any) -> Any:
        """A copy of ``obj`` (dicts, lists, strings) with every secret form replaced, keys included."""
        if not self.values:
            return obj
        if isinstance(obj, str):
            return self.redact_text(obj)
        if isinstance(obj, dict):
            return type(obj)((self.redact_text(k) if isinstance(k, str) else k, self.redact(v))
                             for k, v in obj.items())
        if isinstance(obj, list | tuple):
            return type(obj)(self.redact(v) for v in obj)
        return obj

    def _scan_forms(self) -> list[tuple[bytes, str]]:
        needles: dict[bytes, str] = {}
        for number, value in enumerate(self.values, 1):
            raw = value.encode()
            forms = dict(text_forms(value))
            forms.update({"hex": raw.hex(), "HEX": raw.hex().upper()})
            forms.update({f"base64 {label}": text for label, text in zip(
                ("standard", "standard unpadded", "url-safe", "url-safe unpadded"), _b64_forms(raw), strict=True)})
            forms.update(embedded_base64(raw))
            if len(value) >= MIN_TRUNCATED:
                for label, form in _truncatable(value).items():
                    forms[f"first {MIN_PREFIX} characters, {label}"] = form[:MIN_PREFIX]
                    forms[f"last {MIN_PREFIX} characters, {label}"] = form[-MIN_PREFIX:]
            for label, text in forms.items():
                if len(text) >= MIN_LENGTH:
                    needles.setdefault(text.encode(), f"secret #{number} ({label})")
        return sorted(needles.items(), key=lambda item: len(item[0]), reverse=True)

    def scan(self, data: bytes) -> list[str]:
        """What forms of which secret (by number, never by value) occur in ``data``."""
        return sorted({label for needle, label in self._needles if needle in data})
