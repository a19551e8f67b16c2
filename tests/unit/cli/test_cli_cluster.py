"""`kubebook cluster` on clusters that do not exist: clear answers, right exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubebook.cli import main


@pytest.fixture(autouse=True)
def empty_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEBOOK_DATA_DIR", str(tmp_path))


def test_status_json_of_a_missing_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "status", "--name", "nothere", "--json"]) == 1
    status = json.loads(capsys.readouterr().out)
    assert status == {"name": "nothere", "exists": False, "running": False, "components": {}}


def test_kubeconfig_of_a_missing_cluster_says_how_to_start_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "kubeconfig", "--name", "nothere"]) == 1
    assert "kubebook cluster up --name nothere" in capsys.readouterr().err


def test_down_of_a_missing_cluster_is_harmless(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "down", "--name", "nothere"]) == 0
    assert "nothing was running" in capsys.readouterr().err


def test_up_with_bad_topology_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["cluster", "up", "--topology", "triple"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'triple'" in capsys.readouterr().err
