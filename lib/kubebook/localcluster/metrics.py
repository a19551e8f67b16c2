"""The local cluster's metrics pipeline: KWOK usage emulation -> metrics-server and Prometheus, on loopback.

Opt-in (``kubebook cluster up --with-metrics``): it needs two more Go builds and makes KWOK keep a pod cache.

- **Usage**: KWOK is given a ``Metric`` (the kubelet's ``/metrics/resource`` endpoint, one path per node:
  ``/metrics/nodes/<node>/metrics/resource``) and a ``ClusterResourceUsage`` that reads each pod's usage from
  its annotations ``kwok.x-k8s.io/usage-cpu`` and ``kwok.x-k8s.io/usage-memory`` (the load generator in
  ``kubebook.capacity.loadgen`` moves them). Every node gets the annotation
  ``metrics.k8s.io/resource-metrics-path`` that tells metrics-server (>= 0.7) which path to scrape.
- **metrics-server** listens on 127.0.0.1 with a serving certificate from the cluster CA for
  ``metrics-server.kube-system.svc``; it authenticates the API server's front proxy with the front-proxy CA
  (requestheader flags) and delegates authn/authz to the API server with its own client certificate
  (``kubebook:metrics-server``, bound to ``system:auth-delegator`` and the authentication-reader Role).
  It is registered as the ``v1beta1.metrics.k8s.io`` APIService behind an ExternalName Service
  ``localhost``: the aggregator resolves an ExternalName to ``https://<name>:<port>`` and verifies the
  certificate for ``metrics-server.kube-system.svc`` against the APIService's caBundle. (Endpoints may not
  be loopback addresses, and a ClusterIP leads nowhere without a proxy.)
- **Prometheus** scrapes the same KWOK endpoints (HTTPS, verified against the cluster CA) every 15 s and
  keeps the history the capacity collector reads with range queries.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import yaml

from kubebook.errors import LocalClusterError
from kubebook.localcluster import build, configs, health, pki, processes
from kubebook.localcluster.components import Layout

USER = "kubebook:metrics-server"
PATH_ANNOTATION = "metrics.k8s.io/resource-metrics-path"
USAGE_CPU = "kwok.x-k8s.io/usage-cpu"
USAGE_MEMORY = "kwok.x-k8s.io/usage-memory"
SCRAPE_SECONDS = 15
COMPONENTS = ("metrics-server", "prometheus")


def node_path(node: str) -> str:
    return f"/metrics/nodes/{node}/metrics/resource"


def _metric(name: str, dimension: str, kind: str, value: str, help_text: str) -> dict[str, Any]:
    labels = {"node": [], "pod": ["namespace", "pod"], "container": ["container", "namespace", "pod"]}[dimension]
    sources = {"container": "container.name", "namespace": "pod.metadata.namespace", "pod": "pod.metadata.name"}
    return {"name": name, "dimension": dimension, "kind": kind, "help": help_text, "value": value,
            "labels": [{"name": label, "value": sources[label]} for label in labels]}


def kwok_documents() -> list[dict[str, Any]]:
    """The Metric (kubelet resource endpoint) and ClusterResourceUsage (usage from annotations) for KWOK."""
    usage = {
        "cpu": {"expression": f'"{USAGE_CPU}" in pod.metadata.annotations ? '
                              f'Quantity(pod.metadata.annotations["{USAGE_CPU}"]) : Quantity("1m")'},
        "memory": {"expression": f'"{USAGE_MEMORY}" in pod.metadata.annotations ? '
                                 f'Quantity(pod.metadata.annotations["{USAGE_MEMORY}"]) : Quantity("1Mi")'}}
    metrics = [
        _metric("scrape_error", "node", "gauge", "0", "1 if there was an error while getting metrics"),
        _metric("node_cpu_usage_seconds_total", "node", "counter", 'node.CumulativeUsage("cpu")',
                "Cumulative cpu time consumed by the node in core-seconds"),
        _metric("node_memory_working_set_bytes", "node", "gauge", 'node.Usage("memory")',
                "Current working set of the node in bytes"),
        _metric("pod_cpu_usage_seconds_total", "pod", "counter", 'pod.CumulativeUsage("cpu")',
                "Cumulative cpu time consumed by the pod in core-seconds"),
        _metric("pod_memory_working_set_bytes", "pod", "gauge", 'pod.Usage("memory")',
                "Current working set of the pod in bytes"),
        _metric("container_start_time_seconds", "container", "gauge", "pod.SinceSecond()",
                "Start time of the container since unix epoch in seconds"),
        _metric("container_cpu_usage_seconds_total", "container", "counter",
                'pod.CumulativeUsage("cpu", container.name)', "Cumulative cpu time of the container"),
        _metric("container_memory_working_set_bytes", "container", "gauge", 'pod.Usage("memory", container.name)',
                "Current working set of the container in bytes"),
    ]
    return [
        {"kind": "Metric", "apiVersion": "kwok.x-k8s.io/v1alpha1", "metadata": {"name": "metrics-resource"},
         "spec": {"path": "/metrics/nodes/{nodeName}/metrics/resource", "metrics": metrics}},
        {"kind": "ClusterResourceUsage", "apiVersion": "kwok.x-k8s.io/v1alpha1",
         "metadata": {"name": "usage-from-annotation"}, "spec": {"usages": [{"usage": usage}]}},
    ]


def kwok_config_path(layout: Layout) -> Path:
    return layout.config / "kwok-metrics.yaml"


def write_kwok_config(layout: Layout) -> Path:
    text = "\n---\n".join(yaml.safe_dump(d, sort_keys=False) for d in kwok_documents())
    path = kwok_config_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def ensure_files(layout: Layout, cluster_name: str) -> None:
    """Serving and client certificates and the kubeconfig of metrics-server."""
    pki.ensure_cert(layout.pki, pki.CertSpec("metrics-server-serving", "metrics-server", server=True,
                                             dns_names=("metrics-server.kube-system.svc", "localhost"),
                                             ips=("127.0.0.1",)))
    pki.ensure_cert(layout.pki, pki.CertSpec("metrics-server", USER, (USER,), client=True))
    configs.write_kubeconfig(layout.kubeconfig("metrics-server"), layout.endpoint, layout.pki, "metrics-server",
                             f"kubebook-{cluster_name}")


def metrics_server_argv(layout: Layout, port: int) -> list[str]:
    kubeconfig, pki_dir = layout.kubeconfig("metrics-server"), layout.pki
    return [
        str(build.binary("metrics-server")),
        f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1", f"--secure-port={port}",
        f"--tls-cert-file={pki_dir / 'metrics-server-serving.crt'}",
        f"--tls-private-key-file={pki_dir / 'metrics-server-serving.key'}",
        "--tls-min-version=VersionTLS12",
        f"--requestheader-client-ca-file={pki_dir / 'front-proxy-ca.crt'}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--kubelet-certificate-authority={pki_dir / 'ca.crt'}",
        "--kubelet-preferred-address-types=InternalIP", "--kubelet-use-node-status-port",
        f"--metric-resolution={SCRAPE_SECONDS}s", "--v=1",
    ]


def write_prometheus_config(layout: Layout, nodes: list[str]) -> Path:
    """One scrape job over every KWOK node's resource endpoint (same address, one path per node)."""
    targets = [{"targets": [f"127.0.0.1:{layout.kwok_port}"],
                "labels": {"__metrics_path__": node_path(node), "node": node}} for node in sorted(nodes)]
    config = {"global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": "1m"},
              "scrape_configs": [{"job_name": "kwok-resource", "scheme": "https",
                                  "tls_config": {"ca_file": str(layout.pki / "ca.crt")},
                                  "static_configs": targets}]}
    path = layout.config / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prometheus_argv(layout: Layout, port: int) -> list[str]:
    return [str(build.binary("prometheus")), f"--config.file={layout.config / 'prometheus.yml'}",
            f"--storage.tsdb.path={layout.root / 'prometheus'}", "--storage.tsdb.retention.time=30d",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]


def prometheus_url(state: dict[str, Any]) -> str | None:
    port = (state.get("ports") or {}).get("prometheus")
    running = "prometheus" in (state.get("components") or {})
    return f"http://127.0.0.1:{port}" if port and state.get("metrics") and running else None


def _objects(layout: Layout, port: int) -> list[dict[str, Any]]:
    ca = base64.b64encode((layout.pki / "ca.crt").read_bytes()).decode()
    rbac = "rbac.authorization.k8s.io/v1"
    user = [{"kind": "User", "name": USER, "apiGroup": "rbac.authorization.k8s.io"}]
    return [
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": "kubebook:metrics-server"},
         "rules": [{"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": "kubebook:metrics-server"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "kubebook:metrics-server"}, "subjects": user},
        {"apiVersion": rbac, "kind": "ClusterRoleBinding",
         "metadata": {"name": "kubebook:metrics-server:auth-delegator"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
         "subjects": user},
        {"apiVersion": rbac, "kind": "RoleBinding",
         "metadata": {"name": "kubebook:metrics-server:auth-reader", "namespace": "kube-system"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "extension-apiserver-authentication-reader"}, "subjects": user},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "metrics-server", "namespace": "kube-system"},
         "spec": {"type": "ExternalName", "externalName": "localhost"}},
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": {"name": "v1beta1.metrics.k8s.io"},
         "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                  "versionPriority": 100, "caBundle": ca,
                  "service": {"namespace": "kube-system", "name": "metrics-server", "port": port}}},
    ]


def register(cluster: Any, layout: Layout, port: int) -> None:
    """RBAC, the ExternalName Service and the APIService (server-side apply, idempotent); annotate the nodes."""
    for obj in _objects(layout, port):
        cluster.apply_object(obj, field_manager="kubebook-metrics")
    for node in cluster.list_path("/api/v1/nodes", label_selector="type=kwok"):
        name = node["metadata"]["name"]
        if (node["metadata"].get("annotations") or {}).get(PATH_ANNOTATION) != node_path(name):
            cluster.request("PATCH", f"/api/v1/nodes/{name}", content_type="application/merge-patch+json",
                            body={"metadata": {"annotations": {PATH_ANNOTATION: node_path(name)}}})


def apiservice_available(cluster: Any) -> bool:
    obj = cluster.get_object("apiregistration.k8s.io/v1", "APIService", "v1beta1.metrics.k8s.io")
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)


def prometheus_ready(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _kwok_with_metrics(layout: Layout, records: dict[str, Any], progress: Any, save: Any, state: Any) -> None:
    """KWOK reads its Metric and usage only at start: restart it once with the metrics config."""
    from kubebook.localcluster import components

    config = kwok_config_path(layout)
    record = records.get("kwok")
    if record and f"--config={config}" in record["argv"] and processes.is_alive(processes.ProcessRecord(**record)):
        return
    write_kwok_config(layout)
    if record:
        processes.stop(processes.ProcessRecord(**record), grace_seconds=5)
    progress("restarting kwok with resource-usage emulation")
    records["kwok"] = processes.start("kwok", components.kwok_argv(layout), layout.logs).to_dict()
    save(state)
    health.wait_for("kwok", lambda: processes.port_in_use("127.0.0.1", layout.kwok_port), 30)


def converge(layout: Layout, state: dict[str, Any], cluster: Any, progress: Any, save: Any) -> None:
    """Start what of the pipeline is not running (ports picked once and kept), register it, wait for it."""
    ports = state.setdefault("ports", {})
    used = set(ports.values())
    for component in COMPONENTS:
        key = component.replace("-", "_")
        if key not in ports:
            ports[key] = processes.free_port(("127.0.0.1",), used)
            used.add(ports[key])
    ensure_files(layout, state.get("name", "default"))
    nodes = [n["metadata"]["name"] for n in cluster.list_path("/api/v1/nodes", label_selector="type=kwok")]
    write_prometheus_config(layout, nodes)
    register(cluster, layout, ports["metrics_server"])
    argvs = {"metrics-server": metrics_server_argv(layout, ports["metrics_server"])}
    if build.RECIPES["prometheus"].is_cached():  # `cluster up --with-metrics` builds it; the library does not
        argvs["prometheus"] = prometheus_argv(layout, ports["prometheus"])
    else:
        progress("Prometheus is not built ('kubebook cluster build --only prometheus'): metrics.k8s.io only")
    records = state.setdefault("components", {})
    _kwok_with_metrics(layout, records, progress, save, state)
    for component, argv in argvs.items():
        record = records.get(component)
        if record and processes.is_alive(processes.ProcessRecord(**record)):
            continue
        port = ports[component.replace("-", "_")]
        if processes.port_in_use("127.0.0.1", port):
            raise LocalClusterError(f"port 127.0.0.1:{port} ({component}) is already in use",
                                    hint="stop whatever listens there, or 'kubebook cluster down --purge'")
        progress(f"starting {component}")
        records[component] = processes.start(component, argv, layout.logs).to_dict()
        save(state)
    if "prometheus" in argvs:
        health.wait_for("prometheus", lambda: prometheus_ready(ports["prometheus"]), 60)
    deadline = time.monotonic() + 90
    while not apiservice_available(cluster):
        if time.monotonic() > deadline:
            raise LocalClusterError("metrics.k8s.io did not become Available within 90s",
                                    hint="see 'kubebook cluster logs metrics-server'")
        time.sleep(0.5)
    progress("metrics-server serving metrics.k8s.io" + (
        f"; Prometheus on http://127.0.0.1:{ports['prometheus']}" if "prometheus" in argvs else ""))


def probe(component: str, state: dict[str, Any]) -> bool:
    """Health of a pipeline component for ``cluster status``."""
    ports = state.get("ports") or {}
    if component == "prometheus":
        return bool(ports.get("prometheus")) and prometheus_ready(ports["prometheus"])
    return bool(ports.get("metrics_server")) and processes.port_in_use("127.0.0.1", ports["metrics_server"])
