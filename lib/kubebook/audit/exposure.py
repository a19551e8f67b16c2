"""How workloads are exposed: Ingress TLS, snippet annotations and wildcard hosts; NodePort, LoadBalancer
and externalIPs Services.

Ingress rules follow networking.k8s.io/v1: a rule's ``host`` is served over TLS
when a ``spec.tls`` entry lists it (a ``*.example.com`` entry covers one label
below it); a rule with no host answers for every host, so it needs a TLS entry
without hosts (the default certificate). ingress-nginx ``*-snippet`` annotations
inject raw nginx configuration, which CVE-2021-25742 turned into reading the
controller's service-account token, so any of them fails.

Services: a NodePort opens the port on every node, a LoadBalancer without
``loadBalancerSourceRanges`` admits the whole internet, and ``externalIPs`` let
whoever can create a Service intercept traffic for any IP (CVE-2020-8554). A
namespace labelled ``kubebook.io/exposure=public`` is meant to face the internet;
its NodePort/LoadBalancer Services pass with that reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubebook.audit import catalog, extra_kinds
from kubebook.audit.grouped import Grouped
from kubebook.audit.model import Finding, FindingBatch, Resource
from kubebook.audit.workloads import CLUSTER

INGRESS_CHECKS = ("exposure.ingress-tls", "exposure.ingress-snippets", "exposure.ingress-wildcard-host")
SERVICE_CHECKS = ("exposure.service-source-ranges", "exposure.service-external-ips")
CHECK_IDS = INGRESS_CHECKS + SERVICE_CHECKS
PUBLIC_LABEL = "kubebook.io/exposure"
SNIPPET_PREFIX = "nginx.ingress.kubernetes.io/"


def applies_to(inv: Any) -> bool:
    return inv.source in ("cluster", "manifests")


def evaluate(inv: Any) -> Iterator[Finding | FindingBatch]:
    grouped = Grouped()
    ingresses = extra_kinds.objects(inv, "Ingress")
    services = extra_kinds.objects(inv, "Service")
    if ingresses is not None:
        for ingress in ingresses:
            _ingress(grouped, ingress)
    if services is not None:
        public = {str((ns.get("metadata") or {}).get("name")) for ns in inv.objects("Namespace")
                  if ((ns.get("metadata") or {}).get("labels") or {}).get(PUBLIC_LABEL) == "public"}
        for service in services:
            _service(grouped, service, public)
    yield from grouped.entries()
    for check_ids, kind, found in ((INGRESS_CHECKS, "Ingress", ingresses), (SERVICE_CHECKS, "Service", services)):
        for check_id in check_ids:
            if found is None:
                yield Finding(catalog.get(check_id), CLUSTER, "INFO", extra_kinds.not_listed(kind))
            # a check with nothing to judge yields nothing: it is left out of the score, never a PASS


def _resource(obj: dict[str, Any], kind: str) -> Resource:
    meta = obj.get("metadata") or {}
    return Resource(kind, meta.get("namespace") or "default", str(meta.get("name", "")))


def _covered(host: str, tls_hosts: list[str]) -> bool:
    if host in tls_hosts:
        return True
    parent = host.partition(".")[2]
    return bool(parent) and f"*.{parent}" in tls_hosts


def _ingress(grouped: Grouped, ingress: dict[str, Any]) -> None:
    spec = ingress.get("spec") or {}
    resource = _resource(ingress, "Ingress")
    tls = spec.get("tls") or []
    tls_hosts = [str(h) for entry in tls for h in (entry or {}).get("hosts") or []]
    default_cert = any(not (entry or {}).get("hosts") for entry in tls)
    hosts = [rule.get("host") for rule in spec.get("rules") or [] if isinstance(rule, dict)]
    if spec.get("defaultBackend") and not hosts:
        hosts = [None]
    plain = [h or "(any host)" for h in hosts if (h is None and not default_cert) or (h and not _covered(h, tls_hosts))]
    if plain:
        grouped.add(catalog.get("exposure.ingress-tls"), resource, "FAIL",
                    f"served without TLS: {', '.join(sorted(set(plain)))} (no spec.tls entry lists the host)")
    else:
        grouped.add(catalog.get("exposure.ingress-tls"), resource, "PASS", "every host rule has a TLS entry")
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    snippets = sorted(k for k in annotations if k.startswith(SNIPPET_PREFIX) and k.endswith("-snippet"))
    if snippets:
        grouped.add(catalog.get("exposure.ingress-snippets"), resource, "FAIL",
                    f"ingress-nginx snippet annotation(s) {', '.join(snippets)} inject raw nginx configuration "
                    "(CVE-2021-25742)")
    else:
        grouped.add(catalog.get("exposure.ingress-snippets"), resource, "PASS", "no snippet annotations")
    wildcards = sorted({str(h) for h in [*hosts, *tls_hosts] if h and str(h).startswith("*")})
    if wildcards:
        grouped.add(catalog.get("exposure.ingress-wildcard-host"), resource, "FAIL",
                    f"wildcard host(s) {', '.join(wildcards)} route every matching name to this backend")
    else:
        grouped.add(catalog.get("exposure.ingress-wildcard-host"), resource, "PASS", "no wildcard host")


def _service(grouped: Grouped, service: dict[str, Any], public: set[str]) -> None:
    spec = service.get("spec") or {}
    resource = _resource(service, "Service")
    kind = spec.get("type") or "ClusterIP"
    check = catalog.get("exposure.service-source-ranges")
    if kind not in ("NodePort", "LoadBalancer"):
        grouped.add(check, resource, "PASS", f"type {kind} is not reachable from outside the cluster")
    elif resource.namespace in public:
        grouped.add(check, resource, "PASS", f"type {kind} in namespace {resource.namespace}, marked "
                    f"{PUBLIC_LABEL}=public")
    elif kind == "LoadBalancer" and spec.get("loadBalancerSourceRanges"):
        grouped.add(check, resource, "PASS", "loadBalancerSourceRanges limits the clients")
    elif kind == "LoadBalancer":
        grouped.add(check, resource, "FAIL", "type LoadBalancer without loadBalancerSourceRanges: every address on "
                    "the internet can connect")
    else:
        grouped.add(check, resource, "FAIL", "type NodePort opens the port on every node's address")
    external = [str(ip) for ip in spec.get("externalIPs") or []]
    if external:
        grouped.add(catalog.get("exposure.service-external-ips"), resource, "FAIL",
                    f"externalIPs {', '.join(external)}: traffic to those addresses is routed to this Service "
                    "(CVE-2020-8554)")
    else:
        grouped.add(catalog.get("exposure.service-external-ips"), resource, "PASS", "no externalIPs")
