"""`kubebook dr`: bad input is a one-line error with exit 2, before anything is touched."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from kubebook.cli import main
from kubebook.dr import safety
from kubebook.errors import ParameterError


@pytest.fixture(autouse=True)
def empty_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KUBEBOOK_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["dr", *args])
    return code, capsys.readouterr().err


def test_drill_of_a_cluster_that_does_not_exist_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "drill", "--name", "nosuch", "--json")
    assert code == 2 and "no kubebook local cluster named 'nosuch'" in err and "Traceback" not in err


def test_restore_needs_the_cluster_name_typed_back(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "restore", "--name", "prod", "--confirm", "prd")
    assert code == 2 and "confirm with --confirm prod" in err


def test_backup_without_a_namespace_and_bad_mapping_are_usage_errors(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = run(capsys, "restore-namespace", str(tmp_path / "missing.tar.gz"))
    assert code == 2 and "cannot read backup" in err
    code, err = run(capsys, "backup", "--key-file", str(tmp_path / "nokey"), "-n", "x")
    assert code == 2 and "cannot read key file" in err


def test_new_key_is_written_private_and_never_overwritten(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key = tmp_path / "dr.key"
    assert main(["dr", "backup", "--new-key", str(key)]) == 0
    assert key.stat().st_mode & 0o777 == 0o600
    code, err = run(capsys, "backup", "--new-key", str(key))
    assert code == 2 and "never overwritten" in err


def test_a_foreign_cluster_is_refused_unless_confirmed_by_name(empty_data_dir: Path) -> None:
    foreign = SimpleNamespace(server="https://10.0.0.1:6443", context="prod-admin")
    with pytest.raises(ParameterError, match="--confirm-cluster prod-admin"):
        safety.require_local_or_confirmed(foreign, None, "restore")
    with pytest.raises(ParameterError):
        safety.require_local_or_confirmed(foreign, "staging", "restore")
    assert "confirmed by name" in safety.require_local_or_confirmed(foreign, "prod-admin", "restore")


def test_a_kubebook_local_cluster_is_recognised_by_its_endpoint(empty_data_dir: Path) -> None:
    state = empty_data_dir / "clusters" / "lab" / "state.json"
    state.parent.mkdir(parents=True)
    ports = {"etcd_client": 1, "etcd_peer": 2, "apiserver": 6443, "controller_manager": 3, "scheduler": 4,
             "kwok": 5}
    state.write_text(json.dumps({"name": "lab", "topology": "single", "ports": ports}))
    local = SimpleNamespace(server="https://127.0.0.1:6443", context="admin@kubebook-lab")
    assert safety.require_local_or_confirmed(local, None, "restore") == "kubebook local cluster 'lab'"
    other = SimpleNamespace(server="https://127.0.0.1:7443", context=None)
    with pytest.raises(ParameterError, match="not a kubebook local cluster"):
        safety.require_local_or_confirmed(other, None, "restore")
