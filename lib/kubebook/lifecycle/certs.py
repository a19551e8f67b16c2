"""Every certificate a cluster depends on, with its expiry: the check behind ``kubebook certs check``.

Why: "client certificate has expired" lock-outs happen because nobody listed what expires when.
Sources read here: a kubebook local cluster's PKI directory (CAs, serving and client leaves, etcd,
front proxy, the kubelet's rotated certs, the service-account key's age) and, on any cluster,
``kubernetes.io/tls`` Secrets, webhook / APIService / CRD-conversion ``caBundle``s and the
kubeconfig's own client certificate. Only ``CERTIFICATE`` PEM blocks are ever parsed: a private
key beside a certificate (``tls.key``, the kubelet's ``*-current.pem``) is dropped unread and never
returned, printed or stored. A certificate that cannot be parsed is listed as ``unreadable``, never
skipped and never counted as healthy.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from kubebook.errors import ApiError, ClusterError, KubebookError, ParameterError

DEFAULT_WARN_DAYS = 30
STATUSES = ("expired", "warning", "ok", "unreadable", "no_expiry")
_CERT_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL)


@dataclass
class CertEntry:
    """One certificate (or one that could not be read), as ``certs check`` lists it."""

    source: str            # local-pki | kubelet | secret | webhook | apiservice | crd-conversion | kubeconfig | api
    name: str              # where it lives: a file, namespace/secret, a webhook's name...
    subject: str | None = None
    issuer: str | None = None
    sans: list[str] = field(default_factory=list)
    not_after: str | None = None
    days_left: float | None = None
    status: str = "unreadable"
    error: str | None = None
    age_days: float | None = None  # only for keys without an expiry (the service-account signing key)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: v for k, v in data.items() if v is not None or k in ("not_after", "days_left")}


@dataclass
class CertReport:
    """The sorted list and what it means: ``exit_code`` 1 when anything expired, is due or unreadable."""

    certificates: list[CertEntry]
    warn_days: int
    checked_at: str

    @property
    def soonest(self) -> CertEntry | None:
        dated = [c for c in self.certificates if c.days_left is not None]
        return dated[0] if dated else None

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.certificates if c.status == s) for s in STATUSES}

    @property
    def exit_code(self) -> int:
        bad = ("expired", "warning", "unreadable")
        return 1 if any(c.status in bad for c in self.certificates) else 0

    def as_dict(self) -> dict[str, Any]:
        soonest = self.soonest
        return {"certificates": [c.as_dict() for c in self.certificates],
                "soonest": soonest.as_dict() if soonest else None,
                "counts": self.counts, "warn_days": self.warn_days, "checked_at": self.checked_at}


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = [f"DNS:{n}" for n in ext.get_values_for_type(x509.DNSName)]
    names += [f"IP:{ip}" for ip in ext.get_values_for_type(x509.IPAddress)]
    names += [f"URI:{u}" for u in ext.get_values_for_type(x509.UniformResourceIdentifier)]
    names += [f"email:{e}" for e in ext.get_values_for_type(x509.RFC822Name)]
    return names


def describe(cert: x509.Certificate, source: str, name: str, *, now: dt.datetime, warn_days: int) -> CertEntry:
    """One parsed certificate as an entry: subject, issuer, SANs, not-after, days left, status."""
    not_after = cert.not_valid_after_utc
    days_left = round((not_after - now).total_seconds() / 86400, 2)
    status = "expired" if days_left <= 0 else "warning" if days_left <= warn_days else "ok"
    return CertEntry(source=source, name=name, subject=cert.subject.rfc4514_string(),
                     issuer=cert.issuer.rfc4514_string(), sans=_sans(cert),
                     not_after=not_after.isoformat().replace("+00:00", "Z"), days_left=days_left, status=status)


def certificate_blocks(data: bytes) -> list[bytes]:
    """The ``CERTIFICATE`` PEM blocks of ``data`` only: any key block beside them is never looked at."""
    return _CERT_BLOCK.findall(data)


def entries_from_pem(data: bytes, source: str, name: str, *, now: dt.datetime, warn_days: int) -> list[CertEntry]:
    """Every certificate in a PEM bundle (a chain, a caBundle); one ``unreadable`` entry when there is none."""
    blocks = certificate_blocks(data)
    if not blocks:
        return [CertEntry(source=source, name=name, error="no PEM CERTIFICATE block")]
    entries = []
    for index, block in enumerate(blocks):
        label = name if len(blocks) == 1 else f"{name}[{index}]"
        try:
            cert = x509.load_pem_x509_certificate(block)
            entries.append(describe(cert, source, label, now=now, warn_days=warn_days))
        except ValueError as error:
            entries.append(CertEntry(source=source, name=label, error=f"not a certificate: {error}"[:200]))
    return entries


def _b64(value: str | None, source: str, name: str, **kw: Any) -> list[CertEntry]:
    try:
        data = base64.b64decode(value or "", validate=True)
    except ValueError:
        return [CertEntry(source=source, name=name, error="not valid base64")]
    return entries_from_pem(data, source, name, **kw)


# --- the local PKI of a kubebook cluster ---

def local_pki(cluster_root: Path, *, now: dt.datetime, warn_days: int) -> list[CertEntry]:
    """The certificates under ``<cluster>/pki`` and each real node's kubelet certs, plus the SA key's age."""
    pki = cluster_root / "pki"
    if not pki.is_dir():
        raise ParameterError(f"{cluster_root} has no pki directory",
                             hint="name a kubebook local cluster that was set up ('kubebook cluster up --name N')")
    kw = {"now": now, "warn_days": warn_days}
    entries: list[CertEntry] = []
    for path in sorted(pki.glob("*.crt")):
        entries += entries_from_pem(path.read_bytes(), "local-pki", path.name, **kw)
    # the kubelet's live certs: the ``*-current.pem`` links (cert and key in one file: only the cert is read)
    # and a self-signed ``kubelet.crt``; rotated history (kubelet-client-2026-...pem) is not what it uses
    kubelet = sorted(cluster_root.glob("node-*/kubelet-pki/*-current.pem")) + sorted(
        cluster_root.glob("node-*/kubelet-pki/*.crt"))
    for path in kubelet:
        entries += entries_from_pem(path.read_bytes(), "kubelet", f"{path.parent.parent.name}/{path.name}", **kw)
    sa_key = pki / "sa.key"
    if sa_key.is_file():
        age = (now.timestamp() - sa_key.stat().st_mtime) / 86400
        entries.append(CertEntry(source="local-pki", name="sa.key", subject="service-account signing key",
                                 status="no_expiry", age_days=round(age, 2)))
    return entries


# --- any cluster, through kubebook.cluster ---

def _pages(cluster: Any, path: str, query: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every item at ``path`` page by page (list_path with a field selector, which it does not take)."""
    token: str | None = None
    while True:
        page = cluster.request("GET", path, query={**(query or {}), "limit": 500, "continue": token})
        yield from page.get("items") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


def _listed(cluster: Any, source: str, path: str, query: dict[str, Any] | None = None
            ) -> tuple[list[dict[str, Any]], CertEntry | None]:
    """The items, or an ``unreadable`` entry saying why they could not be listed (forbidden, say)."""
    try:
        return list(_pages(cluster, path, query)), None
    except ApiError as error:
        if error.status == 404:
            return [], None  # not served here (no aggregation layer, say): nothing to check
        return [], CertEntry(source=source, name=path, error=f"cannot list: {error.message}"[:200])
    except ClusterError as error:
        return [], CertEntry(source=source, name=path, error=f"cannot list: {error.message}"[:200])


def tls_secrets(cluster: Any, *, now: dt.datetime, warn_days: int) -> list[CertEntry]:
    """``kubernetes.io/tls`` Secrets: ``tls.crt`` only; ``tls.key`` is dropped from the answer unread."""
    items, failure = _listed(cluster, "secret", "/api/v1/secrets", {"fieldSelector": "type=kubernetes.io/tls"})
    entries = [failure] if failure else []
    for item in items:
        data = item.get("data") or {}
        data.pop("tls.key", None)  # never kept, never printed
        meta = item.get("metadata") or {}
        name = f"{meta.get('namespace')}/{meta.get('name')}"
        if not data.get("tls.crt"):
            entries.append(CertEntry(source="secret", name=name, error="no tls.crt"))
            continue
        entries += _b64(data["tls.crt"], "secret", name, now=now, warn_days=warn_days)
    return entries


def ca_bundles(cluster: Any, *, now: dt.datetime, warn_days: int) -> list[CertEntry]:
    """The ``caBundle`` of every admission webhook, APIService and CRD conversion webhook that has one."""
    kw = {"now": now, "warn_days": warn_days}
    entries: list[CertEntry] = []
    for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        items, failure = _listed(cluster, "webhook", f"/apis/admissionregistration.k8s.io/v1/{kind}")
        entries += [failure] if failure else []
        for item in items:
            for hook in item.get("webhooks") or []:
                bundle = (hook.get("clientConfig") or {}).get("caBundle")
                if bundle:
                    entries += _b64(bundle, "webhook", f"{item['metadata']['name']}/{hook.get('name')}", **kw)
    items, failure = _listed(cluster, "apiservice", "/apis/apiregistration.k8s.io/v1/apiservices")
    entries += [failure] if failure else []
    for item in items:
        bundle = (item.get("spec") or {}).get("caBundle")
        if bundle:
            entries += _b64(bundle, "apiservice", item["metadata"]["name"], **kw)
    items, failure = _listed(cluster, "crd-conversion", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    entries += [failure] if failure else []
    for item in items:
        webhook = ((item.get("spec") or {}).get("conversion") or {}).get("webhook") or {}
        bundle = (webhook.get("clientConfig") or {}).get("caBundle")
        if bundle:
            entries += _b64(bundle, "crd-conversion", item["metadata"]["name"], **kw)
    return entries


def kubeconfig_certs(kubeconfig: Path, context: str | None, *, now: dt.datetime, warn_days: int) -> list[CertEntry]:
    """The client certificate (and CA) the kubeconfig's context authenticates with."""
    from kubebook import yamlload

    kw = {"now": now, "warn_days": warn_days}
    try:
        doc = yamlload.load_file(kubeconfig, f"kubeconfig {kubeconfig}") or {}
    except (OSError, KubebookError) as error:
        return [CertEntry(source="kubeconfig", name=str(kubeconfig), error=f"cannot read: {error}"[:200])]
    wanted = context or doc.get("current-context")
    ctx = next((c.get("context") or {} for c in doc.get("contexts") or [] if c.get("name") == wanted), {})
    user_name, cluster_name = ctx.get("user"), ctx.get("cluster")
    user = next((u.get("user") or {} for u in doc.get("users") or [] if u.get("name") == user_name), {})
    server = next((c.get("cluster") or {} for c in doc.get("clusters") or [] if c.get("name") == cluster_name), {})
    entries: list[CertEntry] = []
    for holder, key, label in ((user, "client-certificate", f"user {user_name}: client certificate"),
                               (server, "certificate-authority", f"cluster {cluster_name}: certificate authority")):
        if holder.get(f"{key}-data"):
            entries += _b64(holder[f"{key}-data"], "kubeconfig", label, **kw)
        elif holder.get(key):
            path = (kubeconfig.parent / Path(holder[key]).expanduser())
            try:
                entries += entries_from_pem(path.read_bytes(), "kubeconfig", label, **kw)
            except OSError as error:
                entries.append(CertEntry(source="kubeconfig", name=label, error=f"cannot read {path}: {error}"))
    return entries


def sort_entries(entries: Iterable[CertEntry]) -> list[CertEntry]:
    """Soonest first; entries without a date (unreadable, keys without an expiry) after them."""
    return sorted(entries, key=lambda c: (c.days_left is None, c.days_left or 0.0, c.source, c.name))


def check(*, cluster: Any | None = None, kubeconfig: Path | None = None, context: str | None = None,
          local_root: Path | None = None, warn_days: int = DEFAULT_WARN_DAYS,
          now: dt.datetime | None = None, unreachable: str | None = None) -> CertReport:
    """Every certificate of the sources given, soonest first.

    ``cluster`` (a connected :class:`kubebook.cluster.Cluster`) adds the in-cluster sources,
    ``kubeconfig`` its client certificate, ``local_root`` a local cluster's PKI. ``unreachable``
    (why the API could not be reached) is listed as one ``unreadable`` entry: an API not checked
    is not an API whose certificates are fine.
    """
    if warn_days < 0:
        raise ParameterError(f"--warn-days must be 0 or more, got {warn_days}", hint="e.g. --warn-days 30")
    now = now or dt.datetime.now(dt.UTC)
    kw = {"now": now, "warn_days": warn_days}
    entries: list[CertEntry] = []
    if local_root is not None:
        entries += local_pki(local_root, **kw)
    if kubeconfig is not None:
        entries += kubeconfig_certs(kubeconfig, context, **kw)
    if cluster is not None:
        entries += tls_secrets(cluster, **kw)
        entries += ca_bundles(cluster, **kw)
    if unreachable:
        entries.append(CertEntry(source="api", name="in-cluster certificates", error=unreachable))
    return CertReport(certificates=sort_entries(entries), warn_days=warn_days,
                      checked_at=now.isoformat().replace("+00:00", "Z"))
