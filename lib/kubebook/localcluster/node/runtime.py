"""Bring the real worker node up beside the KWOK nodes, and take every trace of it down again.

Order (``up``): host check, host-wide lock (one real node per host), kernel tunables, bridge and
API DNAT, certificates and RBAC, the loopback registry with the node's images pushed, containerd
(images pulled into its store), the kubelet (TLS bootstrap, serving CSR approved, Ready), then
kube-router's policy firewall. A failure stops what this call started and removes what it made.
``down`` stops the pod sandboxes through the CRI (so CNI removes their veths and rules), then the
processes, and sweeps containers, shims, mounts, cgroups, the bridge, iptables chains and ipsets.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubebook.cluster import api_client_from_kubeconfig
from kubebook.errors import LocalClusterError
from kubebook.localcluster import build, images, pki, processes
from kubebook.localcluster.components import SERVICE_CIDR
from kubebook.localcluster.node import bootstrap, cleanup, configs, network
from kubebook.localcluster.node.hostcheck import check_host, has_capability, which
from kubebook.localcluster.node.layout import NodeLayout, default_node_name, pick_subnet
from kubebook.localcluster.processes import ProcessRecord

Progress = Callable[[str], None]
LOCK = Path("/run/kubebook/real-node.json")
ORDER = ("registry", "containerd", "kubelet", "kube-router")
NODE_LABEL = "kubebook.io/node-type"
NODE_TAINT = "kubebook.io/real-node"
CAP_SYS_RESOURCE = 24


def _quiet(_: str) -> None:
    return None


def layout_of(cluster_root: Path, node: dict[str, Any]) -> NodeLayout:
    ports = node["ports"]
    return NodeLayout(cluster_root=cluster_root, name=node["name"], subnet=node["subnet"],
                      kubelet_port=ports["kubelet"], kubelet_healthz_port=ports["kubelet_healthz"],
                      registry_port=ports["registry"], router_health_port=0)


def new_node_state() -> dict[str, Any]:
    used: set[int] = set()

    def pick() -> int:
        port = processes.free_port(("127.0.0.1",), used)
        used.add(port)
        return port

    return {"name": default_node_name(), "subnet": pick_subnet(network.host_routes()),
            "ports": {"kubelet": pick(), "kubelet_healthz": pick(), "registry": pick()},
            "components": {}, "tunables_previous": {}, "images": {}}


def _env() -> dict[str, str]:
    folders = [str(build.RECIPES["containerd"].install_dir), "/usr/local/sbin", "/usr/sbin", "/sbin",
               "/usr/local/bin", "/usr/bin", "/bin"]
    return {"PATH": ":".join(folders)}


def argv_of(name: str, layout: NodeLayout, endpoint: str, kubeconfig_dir: Path) -> list[str]:
    if name == "registry":
        return [str(build.binary("registry")), "serve", str(layout.config / "registry.yaml")]
    if name == "containerd":
        return [str(build.binary("containerd")), "--config", str(layout.config / "containerd.toml")]
    if name == "kubelet":
        argv = [str(build.binary("kubelet")), f"--config={layout.config / 'kubelet.yaml'}",
                f"--bootstrap-kubeconfig={layout.config / 'bootstrap.kubeconfig'}",
                f"--kubeconfig={layout.config / 'kubelet.kubeconfig'}", f"--cert-dir={layout.root / 'kubelet-pki'}",
                f"--root-dir={layout.kubelet_root}", f"--node-ip={layout.node_ip}",
                f"--node-labels={NODE_LABEL}=real", "--v=1"]
        if layout.name != default_node_name():
            argv.append(f"--hostname-override={layout.name}")
        return argv
    return [str(build.binary("kube-router")), f"--kubeconfig={kubeconfig_dir / 'kube-router.kubeconfig'}",
            "--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--run-loadbalancer=false",
            f"--hostname-override={layout.name}", f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--health-port=0", "--metrics-port=0", "--iptables-sync-period=30s", "--v=1"]


class RealNode:
    """The real node of one local cluster (``state["real_node"]`` in its state.json)."""

    def __init__(self, cluster_root: Path, endpoint: str, apiserver_port: int) -> None:
        self.cluster_root = cluster_root
        self.endpoint = endpoint
        self.apiserver_port = apiserver_port

    @property
    def admin_kubeconfig(self) -> Path:
        return self.cluster_root / "config" / "super-admin.kubeconfig"

    # ----- up --------------------------------------------------------------------------------------
    def up(self, state: dict[str, Any], save: Callable[[], None], progress: Progress = _quiet) -> dict[str, Any]:
        support = check_host()
        if not support.supported:
            raise LocalClusterError(support.summary(), hint="start without --real-nodes (KWOK nodes only)")
        node = state.setdefault("real_node", new_node_state())
        layout = layout_of(self.cluster_root, node)
        self._take_lock()
        records = {name: ProcessRecord(**record) for name, record in node["components"].items()}
        missing = [name for name in ORDER if name not in records or not processes.is_alive(records[name])]
        if not missing:
            progress(f"real node {layout.name!r} is already running")
            return node
        started: list[ProcessRecord] = []
        try:
            self._prepare(layout, node, save)
            for name in ORDER:
                if name not in missing:
                    continue
                progress(f"starting {name} (real node {layout.name})")
                argv = argv_of(name, layout, self.endpoint, layout.config)
                record = processes.start(name, argv, layout.logs, env=_env())
                started.append(record)
                node["components"][name] = record.to_dict()
                save()
                self._wait(name, record, layout, node, save, progress)
        except BaseException:
            progress("real node failed to start; removing what was made")
            for record in reversed(started):
                processes.stop(record, grace_seconds=5)
            self.down(state, save)
            raise
        progress(f"real node {layout.name!r} Ready (pod subnet {layout.subnet}, images at {layout.registry})")
        return node

    def _take_lock(self) -> None:
        other = host_holder(self.cluster_root)
        if other is not None:
            raise LocalClusterError(f"the host already runs the real node of the cluster at {other}",
                                    hint="one real node per host: take that cluster down first")
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        LOCK.write_text(json.dumps({"cluster_root": str(self.cluster_root)}))

    def _prepare(self, layout: NodeLayout, node: dict[str, Any], save: Callable[[], None]) -> None:
        for folder in (layout.config, layout.logs, layout.kubelet_root, layout.cni_ipam_dir, layout.registry_root):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(layout.root, 0o700)
        for spec in (*bootstrap.NODE_CERTS, bootstrap.registry_cert()):
            pki.ensure_cert(layout.pki, spec)
        from kubebook.localcluster.configs import write_kubeconfig

        write_kubeconfig(layout.config / "kube-router.kubeconfig", self.endpoint, layout.pki, "kube-router",
                         "kubebook")
        configs.write_bootstrap_kubeconfig(layout, self.endpoint)
        configs.write_registry_config(layout)
        configs.write_containerd_config(layout, build.RECIPES["cni"].install_dir, which("runc") or "runc",
                                        restrict_oom=not has_capability(CAP_SYS_RESOURCE))
        configs.write_cni_config(layout)
        configs.write_kubelet_config(layout)
        previous = network.apply_kernel_tunables()
        node["tunables_previous"] = {**previous, **node.get("tunables_previous", {})}
        save()
        network.setup_bridge(layout)
        network.setup_api_dnat(self.apiserver_port)
        cleanup.create_cgroup_root()
        api = api_client_from_kubeconfig(str(self.admin_kubeconfig))
        try:
            bootstrap.ensure_rbac(api)
        finally:
            api.close()

    def _wait(self, name: str, record: ProcessRecord, layout: NodeLayout, node: dict[str, Any],
              save: Callable[[], None], progress: Progress) -> None:
        log = Path(record.log)
        deadline = time.monotonic() + (120 if name == "kubelet" else 60)
        api = api_client_from_kubeconfig(str(self.admin_kubeconfig)) if name == "kubelet" else None
        try:
            while True:
                if not processes.is_alive(record):
                    raise LocalClusterError(f"{name} exited during start-up:\n{processes.tail(log)}",
                                            hint=f"full log: {log}")
                if name == "kubelet" and api is not None:
                    bootstrap.approve_serving_csrs(api, layout.name, layout.node_ip)
                if self._healthy(name, layout, api):
                    break
                if time.monotonic() > deadline:
                    raise LocalClusterError(f"{name} of the real node was not healthy in time:\n"
                                            f"{processes.tail(log)}", hint=f"full log: {log}")
                time.sleep(0.3)
        finally:
            if api is not None:
                api.close()
        if name == "registry":
            self._push_images(layout, node, save, progress)
        elif name == "containerd":
            self._pull_images(layout, node)

    def _healthy(self, name: str, layout: NodeLayout, api: Any = None) -> bool:
        if name == "registry":
            return _https_ok(f"https://{layout.registry}/v2/", layout.pki / "ca.crt")
        if name == "containerd":
            if not layout.containerd_socket.exists():
                return False
            plugins = self._ctr(layout, ["plugins", "ls"])
            cri = [line for line in plugins.stdout.splitlines() if line.split()[:2] == ["io.containerd.grpc.v1", "cri"]]
            if cri and cri[0].split()[-1] != "ok":
                raise LocalClusterError(f"containerd's CRI plugin did not load ({cri[0].split()[-1]})",
                                        hint=f"see {layout.logs / 'containerd.log'} ('failed to load plugin')")
            return bool(cri)
        if name == "kubelet":
            # Ready, and serving with its approved certificate (logs, exec and port-forward need it).
            serving = (layout.root / "kubelet-pki" / "kubelet-server-current.pem").exists()
            if api is None:
                return serving and _http_ok(f"http://127.0.0.1:{layout.kubelet_healthz_port}/healthz")
            return serving and bootstrap.node_ready(api, layout.name)
        listing = network.run(["iptables", "-S", "KUBE-ROUTER-FORWARD"], check=False)
        return listing.returncode == 0

    def _ctr(self, layout: NodeLayout, args: list[str], timeout: int = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(build.binary("ctr")), "--address", str(layout.containerd_socket),
                               "--namespace", "k8s.io", *args], capture_output=True, text=True, check=False,
                              timeout=timeout)

    def _push_images(self, layout: NodeLayout, node: dict[str, Any], save: Callable[[], None],
                     progress: Progress) -> None:
        for built in (images.pause_image(build.binary("pause")), images.busybox_image()):
            reference = images.push(layout.registry, built, layout.pki / "ca.crt")
            node["images"][images.name_of(reference)] = reference
            progress(f"pushed {reference} ({built.digest[:19]})")
        save()

    def _pull_images(self, layout: NodeLayout, node: dict[str, Any]) -> None:
        for reference in node["images"].values():
            pulled = self._ctr(layout, ["images", "pull", "--hosts-dir", str(layout.config / "certs.d"), reference])
            if pulled.returncode != 0:
                raise LocalClusterError(f"containerd could not pull {reference}: {pulled.stderr.strip()[:300]}")

    # ----- down ------------------------------------------------------------------------------------
    def down(self, state: dict[str, Any], save: Callable[[], None], progress: Progress = _quiet) -> list[str]:
        """Stop the node and remove everything it made on the host; return what was stopped or removed."""
        node = state.get("real_node")
        if not node:
            return []
        layout = layout_of(self.cluster_root, node)
        records = {name: ProcessRecord(**record) for name, record in node.get("components", {}).items()}
        done: list[str] = []

        def stop(name: str) -> None:
            if name in records and processes.stop(records[name], grace_seconds=10):
                done.append(name)
                progress(f"stopped {name} (pid {records[name].pid})")

        stop("kube-router")
        if not self._owns_host():
            # Another cluster's real node holds the host: stop our own processes, sweep nothing shared.
            for name in ("kubelet", "containerd", "registry"):
                stop(name)
            node["components"] = {}
            save()
            return done
        if layout.containerd_socket.exists() and "containerd" in records and processes.is_alive(records["containerd"]):
            self._stop_sandboxes(layout)
        stop("kubelet")
        killed = cleanup.kill_cgroup_processes()
        if killed:
            done.append(f"{killed} container processes")
        cleanup.kill_pids(cleanup.shim_pids(layout.containerd_socket))
        stop("containerd")
        stop("registry")
        done += [f"unmounted {point}" for point in cleanup.unmount_all(layout.root)]
        done += [f"removed cgroup {folder}" for folder in cleanup.remove_cgroups()]
        done += [f"removed link {link}" for link in network.remove_bridge()]
        network.remove_api_dnat()
        # kube-router's own --cleanup-config (v2.1.0) leaves its top chains and crashes in the IPVS part,
        # which would delete every IPVS service of the host: the node's chains and sets are swept here.
        done += [f"removed chain {chain}" for chain in network.sweep_iptables()]
        done += [f"removed ipset {name}" for name in network.sweep_ipsets()]
        done += [f"removed {folder}" for folder in cleanup.remove_empty_run_dirs()]
        network.restore_kernel_tunables(node.get("tunables_previous", {}))
        node["tunables_previous"] = {}
        node["components"] = {}
        save()
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            if Path(json.loads(LOCK.read_text()).get("cluster_root", "")) == self.cluster_root:
                LOCK.unlink()
        with contextlib.suppress(OSError):
            LOCK.parent.rmdir()  # only when empty
        return done

    def _owns_host(self) -> bool:
        """True unless the host lock names another cluster whose real node still runs."""
        return host_holder(self.cluster_root) is None

    def _stop_sandboxes(self, layout: NodeLayout) -> None:
        """Stop and remove every pod sandbox through the CRI: containerd runs CNI DEL for each."""
        crictl = build.RECIPES["cri-tools"].path("crictl")
        if not crictl.is_file():
            return
        endpoint = f"unix://{layout.containerd_socket}"
        base = [str(crictl), "--runtime-endpoint", endpoint, "--image-endpoint", endpoint, "--timeout", "30s"]
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run([*base, "rmp", "--all", "--force"], capture_output=True, check=False, timeout=90)

    # ----- status ----------------------------------------------------------------------------------
    def status(self, state: dict[str, Any]) -> dict[str, Any]:
        node = state.get("real_node")
        if not node:
            return {}
        layout = layout_of(self.cluster_root, node)
        components = {}
        for name, record in node.get("components", {}).items():
            alive = processes.is_alive(ProcessRecord(**record))
            components[name] = {"pid": record["pid"], "alive": alive}
        return {"name": layout.name, "subnet": layout.subnet, "node_ip": layout.node_ip,
                "registry": layout.registry, "components": components, "images": dict(node.get("images", {}))}

    def add_runner(self, state: dict[str, Any], save: Callable[[], None], project: Path, venv: Path,
                   progress: Progress = _quiet) -> str:
        """Build the in-cluster runner image ``kubebook:0.1.0``, push it and pull it into the node's store."""
        from kubebook.localcluster.node.runner_image import runner_image

        node = state.get("real_node")
        if not node or not node.get("components"):
            raise LocalClusterError("this cluster runs no real node",
                                    hint="start one with 'kubebook cluster up --real-nodes 1'")
        layout = layout_of(self.cluster_root, node)
        started = time.monotonic()
        built = runner_image(project, venv)
        progress(f"built kubebook:{built.tag} ({built.size / 2**20:.0f} MiB) in {time.monotonic() - started:.0f}s")
        reference = images.push(layout.registry, built, layout.pki / "ca.crt")
        node["images"]["kubebook"] = reference
        save()
        self._pull_images(layout, {"images": {"kubebook": reference}})
        progress(f"pushed and pulled {reference} in {time.monotonic() - started:.0f}s")
        return reference

    def images(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        node = state.get("real_node")
        if not node or not node.get("components"):
            raise LocalClusterError("this cluster runs no real node",
                                    hint="start one with 'kubebook cluster up --real-nodes 1'")
        layout = layout_of(self.cluster_root, node)
        return images.list_store(build.binary("ctr"), layout.containerd_socket)


def host_holder(cluster_root: Path | None = None) -> Path | None:
    """The state folder of another cluster whose real node runs on this host now, else None.

    One host runs one real node (kube-router owns the host's filter table); the lock file names
    the cluster that last started one, and it holds the host only while its node's processes live.
    """
    try:
        holder = json.loads(LOCK.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    named = holder.get("cluster_root") if isinstance(holder, dict) else None
    if not isinstance(named, str) or not named:
        return None
    other = Path(named)
    if other == cluster_root or not _node_running(other):
        return None
    return other


def _node_running(cluster_root: Path) -> bool:
    try:
        state = json.loads((cluster_root / "state.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    records = state.get("real_node", {}).get("components", {}).values()
    return any(processes.is_alive(ProcessRecord(**record)) for record in records)


def _https_ok(url: str, ca_file: Path) -> bool:
    import requests

    try:
        return requests.get(url, verify=str(ca_file), timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _http_ok(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
