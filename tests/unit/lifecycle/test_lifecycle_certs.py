"""certs check over certificates made with cryptography: expiry, order, status, garbage, keys never read."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubebook.errors import ApiError, ParameterError
from kubebook.lifecycle import certs
from kubebook.lifecycle.usecase import certs_check

NOW = dt.datetime(2026, 12, 8, 12, 0, tzinfo=dt.UTC)
GARBAGE = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"


def make(cn: str, days: float, *, sans: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(days=800))
               .not_valid_after(NOW + dt.timedelta(days=days)))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A local cluster's directory: pki/ with expired, 2-day and 400-day certs, a garbage one, a kubelet link."""
    pki = tmp_path / "pki"
    pki.mkdir()
    for stem, days in (("expired", -3), ("soon", 2), ("later", 400)):
        cert, key = make(stem, days, sans=(f"{stem}.example",))
        (pki / f"{stem}.crt").write_bytes(cert)
        (pki / f"{stem}.key").write_bytes(key)
    (pki / "garbage.crt").write_bytes(GARBAGE)
    (pki / "sa.key").write_bytes(b"k")
    kubelet = tmp_path / "node-0" / "kubelet-pki"
    kubelet.mkdir(parents=True)
    cert, key = make("system:node:n0", 100)
    (kubelet / "kubelet-client-2026.pem").write_bytes(cert + key)  # cert and key in one file, as the kubelet writes
    (kubelet / "kubelet-client-current.pem").symlink_to(kubelet / "kubelet-client-2026.pem")
    return tmp_path


def test_local_pki_is_sorted_soonest_first_with_status_and_garbage_listed_unreadable(root: Path) -> None:
    report = certs.check(local_root=root, now=NOW, warn_days=30)
    rows = [(c.name, c.status) for c in report.certificates]
    assert rows[:4] == [("expired.crt", "expired"), ("soon.crt", "warning"),
                        ("node-0/kubelet-client-current.pem", "ok"), ("later.crt", "ok")]
    assert ("garbage.crt", "unreadable") in rows and ("sa.key", "no_expiry") in rows
    soon = report.certificates[1]
    assert soon.days_left == 2.0 and soon.sans == ["DNS:soon.example"] and soon.subject == "CN=soon"
    assert soon.not_after == "2026-12-10T12:00:00Z" and soon.issuer == "CN=soon"
    assert report.soonest is report.certificates[0] and report.exit_code == 1
    assert "kubelet-client-2026.pem" not in " ".join(n for n, _ in rows)  # history, not the live cert
    garbage = next(c for c in report.certificates if c.name == "garbage.crt")
    assert garbage.days_left is None and garbage.error and "not a certificate" in garbage.error


def test_exit_code_zero_only_when_everything_is_dated_and_far(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "later.crt").write_bytes(make("later", 400)[0])
    assert certs.check(local_root=tmp_path, now=NOW).exit_code == 0
    assert certs.check(local_root=tmp_path, now=NOW, warn_days=500).exit_code == 1  # due within 500 days
    (tmp_path / "pki" / "garbage.crt").write_bytes(b"nothing here")
    assert certs.check(local_root=tmp_path, now=NOW).exit_code == 1  # unknown never reads as healthy


def test_json_shape_and_no_key_material(root: Path) -> None:
    doc = certs.check(local_root=root, now=NOW).as_dict()
    first = doc["certificates"][0]
    assert set(first) >= {"source", "name", "subject", "issuer", "sans", "not_after", "days_left", "status"}
    assert doc["soonest"]["name"] == "expired.crt" and doc["counts"]["unreadable"] == 1
    assert "PRIVATE KEY" not in json.dumps(doc)


class FakeCluster:
    """Answers the list paths certs reads, as the API server would (raw JSON)."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, **_: Any) -> Any:
        self.asked.append((path, dict(query or {})))
        answer = self.answers.get(path, ApiError("not found", status=404))
        if isinstance(answer, Exception):
            raise answer
        return {"items": answer, "metadata": {}}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_cluster_sources_tls_secrets_bundles_and_a_forbidden_list() -> None:
    soon, soon_key = make("web", 2, sans=("web.example",))
    far = make("ca", 900)[0]
    fake = FakeCluster({
        "/api/v1/secrets": [
            {"metadata": {"namespace": "shop", "name": "web-tls"},
             "data": {"tls.crt": b64(soon), "tls.key": b64(soon_key)}},
            {"metadata": {"namespace": "shop", "name": "bad"}, "data": {"tls.crt": "***", "tls.key": "x"}},
        ],
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations": [
            {"metadata": {"name": "gk"}, "webhooks": [{"name": "v.gk", "clientConfig": {"caBundle": b64(far)}},
                                                       {"name": "nobundle", "clientConfig": {}}]}],
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations": ApiError("forbidden", status=403),
        "/apis/apiregistration.k8s.io/v1/apiservices": [
            {"metadata": {"name": "v1.metrics"}, "spec": {"caBundle": b64(GARBAGE)}}, {"metadata": {"name": "v1."}}],
    })
    report = certs.check(cluster=fake, now=NOW)
    rows = [(c.source, c.name, c.status) for c in report.certificates]
    assert rows[0] == ("secret", "shop/web-tls", "warning")
    assert ("webhook", "gk/v.gk", "ok") in rows
    assert ("secret", "shop/bad", "unreadable") in rows and ("apiservice", "v1.metrics", "unreadable") in rows
    forbidden = [c for c in report.certificates if c.source == "webhook" and c.status == "unreadable"]
    assert forbidden and "forbidden" in (forbidden[0].error or "")
    listed = {"fieldSelector": "type=kubernetes.io/tls", "limit": 500, "continue": None}
    assert ("/api/v1/secrets", listed) in fake.asked
    assert soon_key.decode().splitlines()[1] not in json.dumps(report.as_dict())


def test_kubeconfig_client_certificate_inline_and_by_file(tmp_path: Path) -> None:
    client, _ = make("alice", 1)
    (tmp_path / "ca.crt").write_bytes(make("kube-ca", 3000)[0])
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "contexts": [{"name": "a", "context": {"cluster": "c", "user": "alice"}},
                     {"name": "b", "context": {"cluster": "c", "user": "bob"}}],
        "clusters": [{"name": "c", "cluster": {"server": "https://x", "certificate-authority": "ca.crt"}}],
        "users": [{"name": "alice", "user": {"client-certificate-data": b64(client), "client-key-data": "eA=="}},
                  {"name": "bob", "user": {"token": "t"}}]}))
    rows = [(c.name, c.status) for c in certs.check(kubeconfig=kubeconfig, now=NOW).certificates]
    assert rows == [("user alice: client certificate", "warning"), ("cluster c: certificate authority", "ok")]
    rows = [c.name for c in certs.check(kubeconfig=kubeconfig, context="b", now=NOW).certificates]
    assert rows == ["cluster c: certificate authority"]


def test_bad_input_is_a_parameter_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEBOOK_DATA_DIR", str(tmp_path))
    with pytest.raises(ParameterError, match="no local cluster named 'ghost'"):
        certs_check(name="ghost")
    with pytest.raises(ParameterError, match="not both"):
        certs_check(name="ghost", kubeconfig=str(tmp_path / "k"))
    with pytest.raises(ParameterError, match="does not exist"):
        certs_check(kubeconfig=str(tmp_path / "missing"))
    with pytest.raises(ParameterError, match="--warn-days"):
        certs_check(warn_days=-1)


def test_unreachable_api_is_listed_not_passed(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = certs.check(local_root=root, now=NOW, unreachable="the API did not answer")
    api = [c for c in report.certificates if c.source == "api"]
    assert api and api[0].status == "unreadable" and report.exit_code == 1


def test_an_api_that_refuses_the_expired_client_cert_still_lists_it_expired(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The "client certificate has expired" lock-out: the check must say so, not fail with the API's 401."""
    from kubebook.errors import ClusterError
    from kubebook.lifecycle import usecase

    client, _ = make("alice", -1)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "contexts": [{"name": "a", "context": {"cluster": "c", "user": "alice"}}],
        "clusters": [{"name": "c", "cluster": {"server": "https://x"}}],
        "users": [{"name": "alice", "user": {"client-certificate-data": b64(client)}}]}))

    def refused(*_: Any, **__: Any) -> Any:
        raise ClusterError("the API server refused the request (401 Unauthorized)")

    monkeypatch.setattr(usecase, "connect", refused)
    report = usecase.certs_check(kubeconfig=str(kubeconfig))
    rows = [(c.source, c.status) for c in report.certificates]
    assert rows[0] == ("kubeconfig", "expired") and ("api", "unreadable") in rows and report.exit_code == 1
    assert "401" in (report.certificates[-1].error or "")
