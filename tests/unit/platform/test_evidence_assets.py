"""Shared assets: large inline scripts and styles stored once per archive, linked, verified, collected.

Synthetic artifacts sealed through Archive.seal_run, as the runner does; the real
charted run is in tests/notebooks/test_evidence_runs.py.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubebook.archive import Archive
from kubebook.archive.assets import MIN_ASSET, RUN_PREFIX, asset_name, extract, extract_from_notebook
from kubebook.runner.artifacts import finite

LIB = "/* a charting library */" + "x" * MIN_ASSET
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_large_classic_scripts_and_styles_move_small_and_module_ones_stay() -> None:
    page = (f"<html><style>{'b' * MIN_ASSET}</style><script>{LIB}</script>"
            f"<script type=\"module\">{LIB}</script><script>small()</script>"
            f"<script src=\"x.js\"></script></html>")
    stored: dict[str, bytes] = {}
    out = extract(page, stored)
    js, css = asset_name(LIB.encode(), "js"), asset_name(("b" * MIN_ASSET).encode(), "css")
    assert set(stored) == {js, css}
    assert f'<script src="{RUN_PREFIX}{js}" charset="utf-8"></script>' in out
    assert f'<link rel="stylesheet" href="{RUN_PREFIX}{css}">' in out
    assert f'<script type="module">{LIB}</script>' in out and "<script>small()</script>" in out


def test_notebook_outputs_link_the_same_asset() -> None:
    nb = {"cells": [{"outputs": [{"data": {"text/html": ["<script>", LIB, "</script>"]}}]}]}
    stored: dict[str, bytes] = {}
    extract_from_notebook(nb, stored)
    assert list(stored) == [asset_name(LIB.encode(), "js")]
    assert nb["cells"][0]["outputs"][0]["data"]["text/html"].startswith("<script src=")


def seal(archive: Archive, run_id: str, hours: int, assets: dict[str, bytes]) -> None:
    archive.seal_run(run_id=run_id, runbook="chart", started=T0 + timedelta(hours=hours),
                     ended=T0 + timedelta(hours=hours, seconds=1), status="succeeded", exit_code=0,
                     trigger="cli", artifacts={"report.html": b"<p>r</p>"}, assets=assets)


def test_assets_are_stored_once_verified_and_collected_with_the_last_run_linking_them(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "reports")
    old = {asset_name(b"old library", "js"): b"old library"}
    new = {asset_name(b"new library", "js"): b"new library"}
    seal(archive, "r0", 0, old)
    seal(archive, "r1", 1, old)
    seal(archive, "r2", 2, new)
    assert sorted(p.name for p in (archive.root / "assets").iterdir()) == sorted([*old, *new])
    assert archive.verify() == []
    planted = archive.root / "assets" / asset_name(b"planted", "js")
    planted.write_bytes(b"planted")
    assert archive.verify() == [f"assets/{planted.name}: not linked by any run in the ledger (added)"]
    planted.unlink()
    archive.prune(keep_last=1)
    assert [p.name for p in (archive.root / "assets").iterdir()] == list(new)
    last = json.loads((archive.root / "ledger.jsonl").read_text().splitlines()[-1])
    assert last["assets_removed"] == list(old)
    assert archive.verify() == []


def test_non_finite_numbers_become_json_strings() -> None:
    data = finite({"a": [math.nan, math.inf, -math.inf, 1.5]})
    assert json.dumps(data, allow_nan=False) == '{"a": ["NaN", "Infinity", "-Infinity", 1.5]}'
