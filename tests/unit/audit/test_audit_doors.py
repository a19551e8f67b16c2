"""The harden-audit runbook's waivers parameter finds the repository's file from any folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubebook.audit import posture
from kubebook.errors import ParameterError

REPO_WAIVERS = (Path(__file__).resolve().parents[3] / "manifests" / "audit-waivers.yaml").resolve()


def test_the_default_waivers_are_found_from_a_folder_outside_the_repository(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert posture.waivers_file(posture.DEFAULT_WAIVERS) == REPO_WAIVERS
    assert posture.waivers_file("") == REPO_WAIVERS


def test_a_file_in_the_current_folder_wins_and_none_means_no_waivers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "manifests").mkdir()
    own = tmp_path / "manifests" / "audit-waivers.yaml"
    own.write_text("waivers: []\n")
    monkeypatch.chdir(tmp_path)
    assert posture.waivers_file("manifests/audit-waivers.yaml") == own.resolve()
    assert posture.waivers_file("none") is None and posture.waivers_file("NONE") is None


def test_a_missing_waivers_file_names_every_place_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError) as info:
        posture.waivers_file("nope/w.yaml")
    assert str(tmp_path / "nope" / "w.yaml") in str(info.value) and "'none'" in str(info.value)
