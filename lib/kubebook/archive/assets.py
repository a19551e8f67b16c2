"""Large inline scripts and styles of a report, stored once per archive by content.

A report with a chart carries plotly.js (about 5 MB) inline, once in the
notebook's output and once in the HTML, and every HTML report carries the same
few hundred kB of JupyterLab CSS: four hourly schedules would archive about a
terabyte a year of identical JavaScript. Instead, every inline ``<script>`` (a
classic one) or ``<style>`` body of at least :data:`MIN_ASSET` bytes is moved to
``<archive>/assets/sha256-<hex>.js|.css`` and the report links to it with a
relative path (``../../../../assets/...``), which a browser follows from
``file://`` as well as from a web server. The report stays self-contained within
the archive and offline; the asset is written once, read-only, and the run's
ledger entry lists the assets it links to with their SHA-256, so ``kubebook
reports verify`` checks them like any artifact and ``prune`` deletes an asset
only when no remaining run links to it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

ASSETS = "assets"
MIN_ASSET = 32 * 1024
NAME = re.compile(r"^sha256-[0-9a-f]{64}\.(js|css)$")
RUN_PREFIX = "../../../../" + ASSETS + "/"  # from <runbook>/<YYYY>/<MM>/<run-id>/
_OPEN = re.compile(r"<(script|style)(\s[^<>]*)?>", re.IGNORECASE)
_CLOSE = {tag: re.compile(rf"</{tag}\s*>", re.IGNORECASE) for tag in ("script", "style")}
_CLASSIC = re.compile(r"""^\s*(type\s*=\s*["']?(text|application)/javascript["']?)?\s*$""", re.IGNORECASE)
_PLAIN_STYLE = re.compile(r"""^\s*(type\s*=\s*["']?text/css["']?)?\s*$""", re.IGNORECASE)


def asset_name(body: bytes, kind: str) -> str:
    return f"sha256-{hashlib.sha256(body).hexdigest()}.{kind}"


def extract(text: str, assets: dict[str, bytes], prefix: str = RUN_PREFIX) -> str:
    """``text`` with each large inline script/style replaced by a link; their bodies added to ``assets``.

    Only classic scripts (no ``type`` or a JavaScript type, no ``src``) and plain
    ``<style>`` blocks move: module scripts cannot load from ``file://``.
    """
    if len(text) < MIN_ASSET:
        return text
    out: list[str] = []
    position = 0
    for match in _OPEN.finditer(text):
        if match.start() < position:
            continue
        tag, attributes = match.group(1).lower(), match.group(2) or ""
        ending = _CLOSE[tag].search(text, match.end())
        if ending is None:
            break
        close = ending.start()
        body = text[match.end():close]
        movable = _CLASSIC.match(attributes) if tag == "script" else _PLAIN_STYLE.match(attributes)
        if len(body) < MIN_ASSET or not movable:
            continue
        data = body.encode("utf-8")
        kind = "js" if tag == "script" else "css"
        name = asset_name(data, kind)
        assets[name] = data
        link = (f'<script src="{prefix}{name}" charset="utf-8"></script>' if kind == "js"
                else f'<link rel="stylesheet" href="{prefix}{name}">')
        out += [text[position:match.start()], link]
        position = ending.end()
    if not out:
        return text
    out.append(text[position:])
    return "".join(out)


def extract_from_notebook(nb: Any, assets: dict[str, bytes], prefix: str = RUN_PREFIX) -> None:
    """Move large inline scripts/styles out of every ``text/html`` output of ``nb`` (in place)."""
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data") if isinstance(output, dict) else None
            if not isinstance(data, dict) or "text/html" not in data:
                continue
            value = data["text/html"]
            text = "".join(value) if isinstance(value, list) else value
            if isinstance(text, str) and len(text) >= MIN_ASSET:
                new = extract(text, assets, prefix)
                if new is not text:
                    data["text/html"] = new
