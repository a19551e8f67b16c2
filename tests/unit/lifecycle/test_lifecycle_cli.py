"""The certs and node command lines: exit codes, one-line errors, output, on a local cluster directory."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubebook.cli import main


def make(cn: str, days: float) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KUBEBOOK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KUBEBOOK_KUBECONFIG", raising=False)
    return tmp_path


def test_a_local_cluster_without_its_api_still_lists_its_pki(data_dir: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A cluster set up but never started (no kubeconfig yet): the files are listed, the API is unreadable."""
    pki = data_dir / "clusters" / "half" / "pki"
    pki.mkdir(parents=True)
    (pki / "soon.crt").write_bytes(make("soon", 2))
    (pki / "far.crt").write_bytes(make("far", 900))
    assert main(["certs", "check", "--name", "half"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["STATUS", "DAYS"] and out[1].split()[0] == "warning" and "soon.crt" in out[1]
    assert any(line.startswith("unreadable") and "api" in line for line in out)
    assert main(["certs", "check", "--name", "half", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["soonest"]["name"] == "soon.crt"


@pytest.mark.parametrize("argv", [
    ["certs", "check", "--name", "ghost"],
    ["certs", "check", "--name", "Bad_Name"],
    ["certs", "check", "--warn-days", "-1"],
    ["certs", "check", "--kubeconfig", "/nonexistent/kubeconfig"],
    ["node", "drain", "n1", "--confirm", "n2"],
    ["node", "drain", "n1"],
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("kubebook: ")
