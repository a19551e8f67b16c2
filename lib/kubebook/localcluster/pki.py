"""The local control plane's PKI, generated with ``cryptography``.

Three CAs, as kubeadm does: one for Kubernetes (serving certs, client certs of
every component and user, the signer controller-manager uses), one for etcd and one
for the aggregation front proxy, so an etcd client cert can never authenticate to
the API server and vice versa.
Private keys are written 0600; certificates 0644. Everything is created once per
cluster and reused, so restarting a cluster keeps its identity.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
CERT_DAYS = 365
LOOPBACK_IPS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
API_DNS_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local")


@dataclass(frozen=True)
class CertSpec:
    """One leaf certificate: file stem, subject, SANs and whether it serves, authenticates or both."""

    stem: str
    common_name: str
    organizations: tuple[str, ...] = ()
    server: bool = False
    client: bool = False
    dns_names: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    ca: str = "ca"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _write_public(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o644)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def ensure_ca(pki_dir: Path, stem: str, common_name: str) -> None:
    """Create ``<stem>.crt``/``<stem>.key`` unless they exist."""
    cert_path, key_path = pki_dir / f"{stem}.crt", pki_dir / f"{stem}.key"
    if cert_path.exists() and key_path.exists():
        return
    key = _new_key()
    now = dt.datetime.now(dt.UTC)
    subject = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def ensure_cert(pki_dir: Path, spec: CertSpec) -> None:
    """Create the leaf certificate ``spec`` signed by its CA unless it exists."""
    cert_path, key_path = pki_dir / f"{spec.stem}.crt", pki_dir / f"{spec.stem}.key"
    if cert_path.exists() and key_path.exists():
        return
    ca_key = _load_key(pki_dir / f"{spec.ca}.key")
    ca_cert = x509.load_pem_x509_certificate((pki_dir / f"{spec.ca}.crt").read_bytes())
    key = _new_key()
    now = dt.datetime.now(dt.UTC)
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if spec.server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if spec.client else [])
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(spec.common_name, spec.organizations)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False,
                                     crl_sign=False, content_commitment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if spec.dns_names or spec.ips:
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in spec.dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in spec.ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_private(key_path, _key_pem(key))
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def ensure_service_account_keys(pki_dir: Path) -> None:
    """RSA key pair that signs service-account tokens (``sa.key``) and verifies them (``sa.pub``)."""
    key_path, pub_path = pki_dir / "sa.key", pki_dir / "sa.pub"
    if key_path.exists() and pub_path.exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(key_path, _key_pem(key))
    _write_public(pub_path, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))


def leaf_specs(etcd_members: int) -> list[CertSpec]:
    """Every leaf certificate the control plane needs."""
    etcd_ips = LOOPBACK_IPS[:etcd_members]
    specs = [
        CertSpec("apiserver", "kube-apiserver", server=True, dns_names=API_DNS_NAMES,
                 ips=(*LOOPBACK_IPS, "10.96.0.1")),
        CertSpec("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("kubebook:apiserver-kubelet",),
                 client=True),
        CertSpec("apiserver-etcd-client", "kube-apiserver-etcd-client", client=True, ca="etcd-ca"),
        CertSpec("admin", "kubebook-admin", ("kubebook:cluster-admins",), client=True),
        CertSpec("super-admin", "kubebook-super-admin", ("system:masters",), client=True),
        CertSpec("controller-manager", "system:kube-controller-manager", client=True),
        CertSpec("scheduler", "system:kube-scheduler", client=True),
        CertSpec("kwok", "kubebook:kwok", ("kubebook:kwok",), client=True),
        CertSpec("kwok-serving", "kwok", server=True, dns_names=("localhost",), ips=("127.0.0.1",)),
        CertSpec("etcd-healthcheck-client", "kube-etcd-healthcheck-client", client=True, ca="etcd-ca"),
        CertSpec("front-proxy-client", "front-proxy-client", client=True, ca="front-proxy-ca"),
    ]
    for index, ip in enumerate(etcd_ips):
        specs.append(CertSpec(f"etcd-server-{index}", f"etcd-{index}", server=True, client=True,
                              dns_names=("localhost",), ips=(ip,), ca="etcd-ca"))
        specs.append(CertSpec(f"etcd-peer-{index}", f"etcd-{index}", server=True, client=True,
                              dns_names=("localhost",), ips=(ip,), ca="etcd-ca"))
    return specs


def ensure_pki(pki_dir: Path, etcd_members: int) -> None:
    """Create (or complete) the whole PKI under ``pki_dir`` (0700)."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(pki_dir, 0o700)
    ensure_ca(pki_dir, "ca", "kubebook-ca")
    ensure_ca(pki_dir, "etcd-ca", "kubebook-etcd-ca")
    ensure_ca(pki_dir, "front-proxy-ca", "kubebook-front-proxy-ca")
    for spec in leaf_specs(etcd_members):
        ensure_cert(pki_dir, spec)
    ensure_service_account_keys(pki_dir)
