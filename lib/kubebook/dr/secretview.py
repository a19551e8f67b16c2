"""How a plan or diff may show a Secret: its keys, and a keyed hash of each value, never the value.

A restore's plan, its dry-run JSON and its trial diffs end up in notebooks, archived reports and
terminals. The values of a Secret must reach none of them in any encoding (clear, base64, hex), yet
a person confirming a restore needs to see which keys it writes and whether a value changes. So each
value becomes ``(hidden; N bytes, keyed hash H)``, H an HMAC-SHA-256 under a key made per process:
equal values show equal hashes within a run, and a short value cannot be guessed from its hash later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Any

_SHOWN_KEY = secrets.token_bytes(32)  # per process: equal values hash alike within a run, never guessable after


def shown(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as a plan or diff may show it: a Secret's keys kept, each value replaced by a keyed hash.

    ``data`` (base64) and ``stringData`` (clear) are hashed from the same bytes and merged as
    the API server merges them, so a value that did not change shows the same hash on both sides,
    and a changed one shows a different hash, without either value appearing in any encoding.
    """
    if obj.get("kind") != "Secret" or not ({"data", "stringData"} & set(obj)):
        return obj
    values: dict[str, str] = {}
    for field in ("data", "stringData"):
        for name, value in (obj.get(field) or {}).items() if isinstance(obj.get(field), dict) else ():
            raw = _raw(value) if field == "data" else str(value).encode()
            digest = hmac.new(_SHOWN_KEY, raw, hashlib.sha256).hexdigest()[:16]
            values[str(name)] = f"(hidden; {len(raw)} bytes, keyed hash {digest})"
    out = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
    out["data"] = dict(sorted(values.items()))
    return out


def _raw(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return str(value).encode()
