"""Redaction rewrites the usual forms of a secret; the scan finds the forms redaction cannot rewrite."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from kubebook import secrets
from kubebook.runner.redact import REDACTED, Redactor

CANARY = "canary-7f3a91c2e4b6"


def test_redact_replaces_raw_and_whole_value_base64_everywhere_in_a_structure() -> None:
    b64 = base64.b64encode(CANARY.encode()).decode()
    nb = {"cells": [{"source": f"token = '{CANARY}'", "outputs": [{"text": f"b64 {b64}\n"}]}],
          "metadata": {"papermill": {"parameters": {"token": CANARY, CANARY: "as a key"}}}}
    clean = Redactor([CANARY]).redact(nb)
    dumped = json.dumps(clean)
    assert CANARY not in dumped and b64 not in dumped
    assert clean["cells"][0]["source"] == f"token = '{REDACTED}'"
    assert clean["metadata"]["papermill"]["parameters"] == {"token": REDACTED, REDACTED: "as a key"}
    assert CANARY in json.dumps(nb), "the input is not modified in place"


def test_scan_of_redacted_bytes_finds_nothing() -> None:
    redactor = Redactor([CANARY])
    text = f"{CANARY} {base64.urlsafe_b64encode(CANARY.encode()).decode()}"
    assert redactor.scan(redactor.redact_text(text).encode()) == []


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy"])
def test_scan_finds_a_secret_embedded_at_any_offset_in_a_longer_base64_blob(prefix: bytes) -> None:
    """A crafted artifact: the canary inside a PNG-like base64 blob, which redaction must not rewrite."""
    blob = base64.b64encode(os.urandom(300) + prefix + CANARY.encode() + os.urandom(300)).decode()
    artifact = json.dumps({"data": {"image/png": blob}}).encode()
    redactor = Redactor([CANARY])
    assert redactor.redact_text(blob) == blob or prefix == b""  # misaligned: redaction cannot see it
    hits = redactor.scan(artifact)
    assert hits, f"embedded base64 at offset {len(prefix)} was not found"
    assert all(CANARY not in hit for hit in hits), "a finding never names the value itself"


def test_scan_finds_hex_and_escaped_forms() -> None:
    redactor = Redactor(['pa"ss<word>!'])
    assert "secret #1 (hex)" in redactor.scan(b"dump: " + b'pa"ss<word>!'.hex().encode())
    assert any("JSON-escaped" in h for h in redactor.scan(json.dumps({"v": 'pa"ss<word>!'}).encode()))
    assert any("HTML-escaped" in h for h in redactor.scan(b"<td>pa&quot;ss&lt;word&gt;!</td>"))


def test_short_values_are_neither_redacted_nor_scanned() -> None:
    redactor = Redactor(["yes", ""])
    assert not redactor
    assert redactor.redact_text("yes, 80") == "yes, 80"
    assert redactor.scan(b"yes") == []


def test_registered_values_reach_the_runner_through_a_private_sink(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sink = tmp_path / "sink"
    monkeypatch.setenv(secrets.SINK_ENV, str(sink))
    monkeypatch.setattr(secrets, "_registered", set())
    secrets.register_secret_values(["first-value", "second\nvalue", "first-value"])
    assert sink.stat().st_mode & 0o777 == 0o600
    assert secrets.read_sink(sink) == ["first-value", "second\nvalue"]
    assert secrets.read_sink(tmp_path / "missing") == []
