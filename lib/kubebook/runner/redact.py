"""Redact secret values from a run's artifacts, then scan every byte for what slipped through.

Two layers, deliberately unequal:

* :meth:`Redactor.redact` rewrites strings in the notebook structure (sources,
  outputs, metadata, parameters) before anything is serialized. It replaces the
  forms a value is normally shown in: the raw text and its whole-value base64
  (standard and URL-safe, with and without padding).
* :meth:`Redactor.scan` looks at the final bytes of each artifact for a wider
  net of forms: raw, JSON- and HTML-escaped, hex, and base64 *embedded at any
  offset* inside a longer base64 string. Those forms cannot be rewritten safely
  (a value inside an image's base64 would corrupt the image), so finding one
  fails the run as ``leaked`` and the artifact goes to quarantine.

Values shorter than :data:`MIN_LENGTH` characters are neither redacted nor
scanned: "yes" or "80" occur everywhere and hiding them protects nothing.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable
from typing import Any

MIN_LENGTH = 4
MIN_EMBEDDED_BASE64 = 8  # shorter offset-base64 cores would match random image data
REDACTED = "***REDACTED***"


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


class Redactor:
    """Knows a run's secret values; redacts them from structures and finds them in bytes."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = sorted({v for v in values if isinstance(v, str) and len(v) >= MIN_LENGTH},
                             key=len, reverse=True)
        forms: set[str] = set()
        for value in self.values:
            forms.add(value)
            forms.update(f for f in _b64_forms(value.encode()) if len(f) >= MIN_LENGTH)
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._needles = self._scan_forms()

    def __bool__(self) -> bool:
        return bool(self.values)

    def redact_text(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def redact(self, obj: Any) -> Any:
        """A copy of ``obj`` (dicts, lists, strings) with every secret form replaced, keys included."""
        if self._pattern is None:
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
            forms = {"raw": value, "JSON-escaped": json.dumps(value)[1:-1],
                     "JSON-escaped (ASCII)": json.dumps(value, ensure_ascii=True)[1:-1],
                     "HTML-escaped": html.escape(value), "hex": raw.hex(), "HEX": raw.hex().upper()}
            forms.update({f"base64 {label}": text for label, text in zip(
                ("standard", "standard unpadded", "url-safe", "url-safe unpadded"), _b64_forms(raw), strict=True)})
            forms.update(embedded_base64(raw))
            for label, text in forms.items():
                needles.setdefault(text.encode(), f"secret #{number} ({label})")
        return sorted(needles.items(), key=lambda item: len(item[0]), reverse=True)

    def scan(self, data: bytes) -> list[str]:
        """What forms of which secret (by number, never by value) occur in ``data``."""
        return sorted({label for needle, label in self._needles if needle in data})
