"""`kubebook audit` source flags: --cluster with --control-plane is one audit; --manifests stays alone."""

from __future__ import annotations

import pytest

from kubebook.cli import main


def test_manifests_with_control_plane_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str],
                                                                tmp_path) -> None:
    assert main(["audit", "--manifests", str(tmp_path), "--control-plane", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot be combined" in err and "\n" not in err


def test_unknown_control_plane_is_refused_before_the_cluster_is_read(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KUBEBOOK_DATA_DIR", str(tmp_path))
    # --cluster points at a file that does not exist: had the cluster been read first, the error would name it
    assert main(["audit", "--cluster", str(tmp_path / "nope"), "--control-plane", "ghost"]) == 2
    assert "no local control plane named 'ghost'" in capsys.readouterr().err


def test_an_unexpected_file_system_error_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    # --output into a folder that does not exist: the audit handler does not expect it
    target = tmp_path / "no-such-dir" / "report.json"
    (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")  # not no_data
    assert main(["audit", "--manifests", str(tmp_path), "--format", "json", "--output", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No such file or directory" in err and "Traceback" not in err
