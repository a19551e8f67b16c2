"""A kubeconfig's embedded private key never lands in a file, even when the process is killed.

The kubernetes client writes ``client-key-data`` to ``$TMPDIR`` and removes it only at exit;
``kubebook.cluster`` moves it into a memory-only file at once. The child below connects (to a port
nobody listens on) and then ends without running exit hooks, as a killed kernel does.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = pytest.mark.process  # a client killed without exit hooks

CHILD = """
import os, sys
from kubebook import cluster

try:
    cluster.connect(sys.argv[1], timeout_seconds=0.5)
except Exception as error:
    print(type(error).__name__)
client = cluster.api_client_from_kubeconfig(sys.argv[1])
print(open(client.configuration.key_file, "rb").read().decode().splitlines()[0])
os._exit(0)
"""


def _kubeconfig(path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubebook-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:9", certificate-authority-data: {b64(pem)}}}}}]
users: [{{name: u, user: {{client-certificate-data: {b64(pem)}, client-key-data: {b64(key_pem)}}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    return path


def test_a_killed_client_leaves_no_credential_file_behind(tmp_path: Path) -> None:
    kubeconfig = _kubeconfig(tmp_path / "kubeconfig")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run([sys.executable, "-c", CHILD, str(kubeconfig)], capture_output=True, text=True,
                          env={**os.environ, "TMPDIR": str(scratch)}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["ClusterUnreachableError", "-----BEGIN PRIVATE KEY-----"]  # still usable
    assert sorted(p.name for p in scratch.iterdir()) == []
