"""Bring the local control plane up, repair it, report on it and take it down.

``up`` is convergent: it starts only what is not running (so it also repairs an
HA cluster after members were killed) and says "already running" when nothing
was missing. Failure during ``up`` stops whatever this call started and leaves
the state as it was, so no half-started process outlives an error.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubebook.cluster import api_client_from_kubeconfig
from kubebook.errors import BuildError, LocalClusterError, ParameterError
from kubebook.fsutil import atomic_write_text
from kubebook.localcluster import bootstrap, build, components, configs, health, pki, processes
from kubebook.localcluster.components import Layout
from kubebook.localcluster.node.placement import Choice, choose
from kubebook.localcluster.paths import NAME_PATTERN, cluster_dir
from kubebook.localcluster.processes import ProcessRecord

TOPOLOGIES = {"single": 1, "ha": 3}
# An etcd restore's files in its cluster's folder (kubebook.dr.etcdjournal writes them, _pending_restore reads them)
RESTORE_LOCK, RESTORE_JOURNAL, ETCD_ASIDE = "etcd-restore.lock", "etcd-restore.json", "etcd.before-restore"
RESTORE_FINISHING = ("restored", "done")  # journal phases after which every member holds the restored data
MAX_NODES = 5000
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class LocalCluster:
    """One named local control plane and its state directory."""

    def __init__(self, name: str = "default", topology: str | None = None, nodes: int = 3,
                 root: Path | None = None, real_nodes: int | str | None = None,
                 with_metrics: bool | None = None) -> None:
        problems = []
        if not NAME_PATTERN.match(name):
            problems.append(f"name {name!r} must be 1-32 lowercase letters, digits or '-' (e.g. 'dev')")
        if topology is not None and topology not in TOPOLOGIES:
            problems.append(f"topology {topology!r} is not one of {sorted(TOPOLOGIES)}")
        if not isinstance(nodes, int) or not 0 <= nodes <= MAX_NODES:
            problems.append(f"nodes {nodes!r} must be a whole number from 0 to {MAX_NODES}")
        if real_nodes is not None and real_nodes not in (0, 1, "auto"):
            problems.append(f"real-nodes {real_nodes!r} must be 0 or 1 (kube-router owns the host's iptables "
                            "filter table, so one host runs one real node)")
        if problems:
            raise ParameterError("invalid local cluster settings", problems=problems)
        self.name = name
        self.nodes = nodes
        # None: keep what the cluster has; "auto": that, else 1 where the host can run one (node/placement.py)
        self.real_nodes = real_nodes
        self._announced: Choice | None = None  # the first "auto" answer, which the CLI prints
        self.with_metrics = with_metrics  # None: keep what the cluster has (see localcluster/metrics.py)
        self.root = root or cluster_dir(name)
        # No topology given: an existing cluster keeps the one it was created with, a new one is single.
        self.topology = topology or self._recorded_topology() or "single"

    def _recorded_topology(self) -> str | None:
        try:
            recorded = json.loads(self.state_path.read_text()).get("topology")
        except (OSError, ValueError, AttributeError):
            return None
        return recorded if recorded in TOPOLOGIES else None

    # ----- state -----------------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def load_state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_path.read_text()))
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as error:
            raise LocalClusterError(f"{self.state_path} is corrupt: {error}",
                                    hint=f"'kubebook cluster down --purge --name {self.name}' starts afresh") from error

    def _save_state(self, state: dict[str, Any]) -> None:
        atomic_write_text(self.state_path, json.dumps(state, indent=2, sort_keys=True))

    def layout(self) -> Layout:
        """Addresses, ports and file locations of this (existing) cluster."""
        state = self.load_state()
        if not state:
            raise LocalClusterError(f"local cluster {self.name!r} does not exist",
                                    hint=f"start it with 'kubebook cluster up --name {self.name}'")
        return self._layout(state)

    def _records(self, state: dict[str, Any]) -> dict[str, ProcessRecord]:
        return {name: ProcessRecord(**record) for name, record in state.get("components", {}).items()}

    def _layout(self, state: dict[str, Any]) -> Layout:
        ports = state["ports"]
        return Layout(name=self.name, members=TOPOLOGIES[state["topology"]], root=self.root,
                      etcd_client_port=ports["etcd_client"], etcd_peer_port=ports["etcd_peer"],
                      apiserver_port=ports["apiserver"], controller_manager_port=ports["controller_manager"],
                      scheduler_port=ports["scheduler"], kwok_port=ports["kwok"], lb_port=ports.get("lb"),
                      unsafe_no_fsync=bool(state.get("unsafe_no_fsync")))

    def _new_state(self) -> dict[str, Any]:
        hosts = components.LOOPBACK[: TOPOLOGIES[self.topology]]
        used: set[int] = set()

        def pick(on: tuple[str, ...] = hosts) -> int:
            port = processes.free_port(on, used)
            used.add(port)
            return port

        ports = {"etcd_client": pick(), "etcd_peer": pick(), "apiserver": pick(), "controller_manager": pick(),
                 "scheduler": pick(), "kwok": pick(("127.0.0.1",))}
        if self.topology == "ha":
            ports["lb"] = pick(("127.0.0.1",))
        return {"name": self.name, "topology": self.topology, "nodes": self.nodes, "ports": ports,
                "unsafe_no_fsync": os.environ.get("KUBEBOOK_UNSAFE_NO_FSYNC") == "1",
                "version": build.RECIPES["kubernetes"].version, "components": {}}

    # ----- plan ------------------------------------------------------------------------------------
    def _plan(self, layout: Layout) -> list[tuple[str, Callable[[], list[str]]]]:
        """(component, argv factory) in start order."""
        members = range(layout.members)
        plan: list[tuple[str, Callable[[], list[str]]]] = []
        plan += [(f"etcd-{i}", lambda i=i: components.etcd_argv(layout, i)) for i in members]
        plan += [(f"kube-apiserver-{i}", lambda i=i: components.apiserver_argv(layout, i)) for i in members]
        if layout.lb_port is not None:
            plan.append(("haproxy", lambda: components.haproxy_argv(layout, self._haproxy())))
        plan += [(f"kube-controller-manager-{i}", lambda i=i: components.controller_manager_argv(layout, i))
                 for i in members]
        plan += [(f"kube-scheduler-{i}", lambda i=i: components.scheduler_argv(layout, i)) for i in members]
        plan.append(("kwok", lambda: components.kwok_argv(layout)))
        return plan

    @staticmethod
    def _haproxy() -> str:
        path = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
        if not path:
            raise LocalClusterError("the ha topology needs HAProxy, which is not installed",
                                    hint="install the Debian package: apt-get install haproxy")
        return path

    def _ports_of(self, component: str, layout: Layout) -> list[tuple[str, int]]:
        kind, _, index = component.rpartition("-")
        if component == "haproxy":
            return [("127.0.0.1", layout.lb_port or 0)]
        if component == "kwok":
            return [("127.0.0.1", layout.kwok_port)]
        host = layout.hosts[int(index)]
        return {"etcd": [(host, layout.etcd_client_port), (host, layout.etcd_peer_port)],
                "kube-apiserver": [(host, layout.apiserver_port)],
                "kube-controller-manager": [(host, layout.controller_manager_port)],
                "kube-scheduler": [(host, layout.scheduler_port)]}[kind]

    # ----- up --------------------------------------------------------------------------------------
    def up(self, progress: Progress = _quiet, wait_nodes: bool = True) -> dict[str, Any]:
        """Start what is not running; an etcd restore that did not finish is finished here or refused."""
        finishing = self._pending_restore(progress)
        try:
            status = self._start(progress, wait_nodes)
            if finishing is not None:
                shutil.rmtree(self.root / ETCD_ASIDE, ignore_errors=True)
                (self.root / RESTORE_JOURNAL).unlink(missing_ok=True)
                progress("finished the interrupted etcd restore: the restored data is up, the data from before "
                         "it was removed")
            return status
        finally:
            if finishing is not None:
                os.close(finishing)

    def _pending_restore(self, progress: Progress) -> int | None:
        """What a ``kubebook dr restore`` that did not finish left behind, and whether ``up`` may go on.

        The restore holds a flock on RESTORE_LOCK throughout, journals its phase and moves the etcd data
        aside in one rename before restoring any member. Before that rename nothing changed: the journal
        is dropped and the cluster starts as it was. After it, starting would serve an empty etcd, so this
        refuses and names the command that finishes or rolls back; once every member is restored, ``up``
        finishes the restore itself (and holds the lock meanwhile: the returned fd).
        """
        path = self.root / RESTORE_JOURNAL
        if not path.exists():
            return None
        try:
            journal = dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            journal = {}
        finishing = journal.get("phase") in RESTORE_FINISHING
        lock = os.open(self.root / RESTORE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            if finishing:
                return None  # the restore's own `up`
            holder = (self.root / RESTORE_LOCK).read_text().strip() or "another process"
            raise LocalClusterError(f"cluster {self.name!r} is being restored right now ({holder}); nothing was "
                                    "started", hint="the restore starts the cluster itself when it is done") from None
        what = (f"an etcd restore of cluster {self.name!r} from snapshot "
                f"{(journal.get('snapshot') or {}).get('ref', '?')} (started {journal.get('started', '?')} "
                f"by pid {journal.get('pid', '?')})")
        if finishing:
            progress(f"{what} was interrupted after every etcd member was restored; starting the cluster finishes it")
            return lock
        os.close(lock)
        if (self.root / ETCD_ASIDE).exists():
            raise LocalClusterError(
                f"{what} was interrupted after it moved the etcd data aside; nothing was started, since an empty "
                "etcd would come up", hint=f"finish it with 'kubebook dr restore --name {self.name} --resume', or "
                f"put the data from before back with 'kubebook dr restore --name {self.name} --rollback'")
        path.unlink()
        progress(f"{what} was interrupted before it changed any data; starting the cluster as it was")
        return None

    def _start(self, progress: Progress, wait_nodes: bool) -> dict[str, Any]:
        started_at = time.monotonic()
        state = self.load_state()
        if state and state.get("topology") != self.topology:
            raise LocalClusterError(
                f"cluster {self.name!r} exists with topology {state.get('topology')!r}, not {self.topology!r}",
                hint=f"use --topology {state.get('topology')} or 'kubebook cluster down --purge --name {self.name}'")
        if state:
            self.nodes = int(state.get("nodes", self.nodes)) if self.nodes == 3 else self.nodes
            state["nodes"] = self.nodes
        else:
            state = self._new_state()
        layout = self._layout(state)
        records = self._records(state)
        if self.with_metrics or (self.with_metrics is None and state.get("metrics")):
            from kubebook.localcluster import metrics

            metrics.write_kwok_config(layout)  # KWOK starts with its usage emulation, no restart later
        try:
            plan = [(name, factory()) for name, factory in self._plan(layout)]
        except BuildError as error:
            raise LocalClusterError(str(error.message), hint="run 'kubebook cluster build' first") from error
        missing = [name for name, _ in plan if name not in records or not processes.is_alive(records[name])]
        if not missing:
            progress(f"cluster {self.name!r} is already running ({self.topology}); nothing to start")
            self._converge(layout, state, progress, wait_nodes)
            return self.status()
        busy = [f"{host}:{port} ({name})" for name in missing for host, port in self._ports_of(name, layout)
                if processes.port_in_use(host, port)]
        if busy:
            raise LocalClusterError(f"port(s) already in use: {', '.join(busy)}",
                                    hint="stop whatever listens there, or 'kubebook cluster down --purge' "
                                         "to pick new ports")
        self._prepare_files(layout)
        started: list[ProcessRecord] = []
        try:
            rbac_done = False
            deferred: list[tuple[str, ProcessRecord]] = []
            for position, (name, argv) in enumerate(plan):
                if name not in missing:
                    continue
                if not rbac_done and not name.startswith(("etcd-", "kube-apiserver-")):
                    self._bootstrap_rbac(layout)
                    rbac_done = True
                progress(f"starting {name}")
                record = processes.start(name, argv, layout.logs)
                started.append(record)
                state["components"][name] = record.to_dict()
                self._save_state(state)
                # Apiservers start together and are waited for after the last: each spends many seconds filling
                # its watch caches, and a restored or repaired ha cluster should not pay that once per member.
                later = [n for n, _ in plan[position + 1:] if n in missing]
                if name.startswith("kube-apiserver-") and later and later[0].startswith("kube-apiserver-"):
                    deferred.append((name, record))
                    continue
                for waiting, waiting_record in deferred:
                    self._wait_healthy(waiting, waiting_record, layout, plan)
                deferred.clear()
                self._wait_healthy(name, record, layout, plan)
            self._converge(layout, state, progress, wait_nodes)
        except BaseException:
            for record in reversed(started):
                processes.stop(record, grace_seconds=5)
                state["components"].pop(record.component, None)
            self._save_state(state)
            raise
        progress(f"cluster {self.name!r} up in {time.monotonic() - started_at:.1f}s; kubeconfig: {self.kubeconfig}")
        return self.status()

    def _prepare_files(self, layout: Layout) -> None:
        for folder in (layout.config, layout.logs, layout.root / "etcd", layout.root / "run"):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(layout.root / "etcd", 0o700)
        pki.ensure_pki(layout.pki, layout.members)
        configs.write_admission_config(layout.config)
        configs.write_audit_policy(layout.config)
        configs.ensure_encryption_config(layout.config)
        configs.write_kubeconfig(self.kubeconfig, layout.endpoint, layout.pki, "admin", f"kubebook-{self.name}")
        configs.write_kubeconfig(layout.kubeconfig("super-admin"), layout.apiserver_url(0), layout.pki,
                                 "super-admin", f"kubebook-{self.name}")
        configs.write_kubeconfig(layout.kubeconfig("kwok"), layout.endpoint, layout.pki, "kwok",
                                 f"kubebook-{self.name}")
        for index in range(layout.members):
            for user in ("controller-manager", "scheduler"):
                configs.write_kubeconfig(layout.kubeconfig(user, index), layout.apiserver_url(index), layout.pki,
                                         user, f"kubebook-{self.name}")
            configs.write_scheduler_config(layout.config, layout.kubeconfig("scheduler", index), index)
        if layout.lb_port is not None:
            backends = [(host, layout.apiserver_port) for host in layout.hosts]
            configs.write_haproxy_config(layout.config, layout.lb_port, backends)
        configs.write_kwok_stages(layout.config, build.RECIPES["kwok"].install_dir / "stages")

    def _wait_healthy(self, name: str, record: ProcessRecord, layout: Layout,
                      plan: list[tuple[str, list[str]]]) -> None:
        kind, _, index_text = name.rpartition("-")
        log = Path(record.log)

        def alive() -> bool:
            return processes.is_alive(record)

        if kind == "etcd":
            names = [n for n, _ in plan if n.startswith("etcd-")]
            if name != names[-1] and len(names) > 1:
                return  # a fresh multi-member etcd is healthy only once a quorum is up
            for index in range(layout.members):
                url = layout.etcd_client_urls()[index]
                health.wait_for(f"etcd-{index}", lambda url=url: health.etcd_healthy(layout.pki, url), 60, alive, log)
        elif kind == "kube-apiserver":
            url = layout.apiserver_url(int(index_text))
            health.wait_for(name, lambda: health.apiserver_ready(layout.pki, url), 90, alive, log)
        elif name == "haproxy":
            health.wait_for(name, lambda: health.apiserver_ready(layout.pki, layout.endpoint), 30, alive, log)
        elif kind in ("kube-controller-manager", "kube-scheduler"):
            port = layout.controller_manager_port if kind == "kube-controller-manager" else layout.scheduler_port
            host = layout.hosts[int(index_text)]
            health.wait_for(name, lambda: health.serving_healthy(host, port), 60, alive, log)
        elif name == "kwok":
            health.wait_for(name, lambda: processes.port_in_use("127.0.0.1", layout.kwok_port), 30, alive, log)

    def _bootstrap_rbac(self, layout: Layout) -> None:
        api = api_client_from_kubeconfig(str(layout.kubeconfig("super-admin")))
        try:
            bootstrap.ensure_rbac(api)
        finally:
            api.close()

    def _converge(self, layout: Layout, state: dict[str, Any], progress: Progress, wait_nodes: bool) -> None:
        """RBAC and KWOK nodes, created with the bootstrap credentials; idempotent."""
        # /readyz turns green before every watch cache is re-initialised (after a lost quorum or a restore),
        # and until then reads and writes answer 429 "storage is (re)initializing": wait that out here, so a
        # script can write as soon as `up` returns.
        health.wait_for("kube-apiserver storage", lambda: health.storage_ready(layout.pki, layout.endpoint), 120)
        api = api_client_from_kubeconfig(str(layout.kubeconfig("super-admin")))
        try:
            bootstrap.ensure_rbac(api)
            names = bootstrap.ensure_nodes(api, self.nodes, state["version"])
            if wait_nodes and names:
                deadline = time.monotonic() + 60
                while bootstrap.ready_nodes(api) < len(names):
                    if time.monotonic() > deadline:
                        raise LocalClusterError(f"{len(names)} KWOK nodes were not Ready within 60s",
                                                hint="see 'kubebook cluster logs kwok'")
                    time.sleep(0.2)
                progress(f"{len(names)} KWOK nodes Ready")
        finally:
            api.close()
        self._save_state(state)
        self._converge_real_node(layout, state, progress)
        self._converge_metrics(layout, state, progress)

    def _converge_metrics(self, layout: Layout, state: dict[str, Any], progress: Progress) -> None:
        """The opt-in metrics pipeline (localcluster/metrics.py); once on, it stays on for this cluster."""
        if not (state.get("metrics") if self.with_metrics is None else self.with_metrics):
            return
        from kubebook import cluster as cluster_api
        from kubebook.localcluster import metrics

        state["metrics"] = True
        target = cluster_api.connect(layout.kubeconfig("super-admin"))
        metrics.converge(layout, state, target, progress, self._save_state)
        self._save_state(state)

    def planned_real_nodes(self, state: dict[str, Any] | None = None) -> Choice:
        """How many real nodes ``up`` runs and why: a number given now or recorded, else the host's answer."""
        state = self.load_state() if state is None else state
        if self.real_nodes == "auto":
            if self._announced is None:
                self._announced = choose(self.root, state)
                return self._announced
            return choose(self.root, state)
        if self.real_nodes is None:  # a node "auto" started is the cluster's too (a DR drill's restart keeps it)
            running = 1 if state.get("real_node", {}).get("components") else 0
            return Choice(int(state.get("real_nodes", running)), "what this cluster has")
        return Choice(int(self.real_nodes), "asked for")

    def _converge_real_node(self, layout: Layout, state: dict[str, Any], progress: Progress) -> None:
        """Start (or take down) the real worker node beside the KWOK nodes (localcluster/node/)."""
        choice = self.planned_real_nodes(state)
        if self.real_nodes == "auto" and choice != self._announced:
            progress(f"real nodes: {choice.count} ({choice.reason})")  # the host changed since the CLI asked
        wanted = choice.count
        if self.real_nodes in (0, 1):
            state["real_nodes"] = self.real_nodes  # a number the user gave is kept on later starts
            self._save_state(state)
        if not wanted and not state.get("real_node", {}).get("components"):
            return
        from kubebook.localcluster.node.runtime import RealNode

        node = RealNode(self.root, layout.endpoint, int(layout.endpoint.rsplit(":", 1)[1]))
        if wanted:
            node.up(state, lambda: self._save_state(state), progress)
        else:
            node.down(state, lambda: self._save_state(state), progress)

    # ----- down / status / logs -------------------------------------------------------------------
    def down(self, purge: bool = False, progress: Progress = _quiet) -> list[str]:
        """Stop every process this cluster started (by pid, newest first); ``purge`` removes the state."""
        state = self.load_state()
        stopped = []
        if state.get("real_node"):
            from kubebook.localcluster.node.runtime import RealNode

            stopped += RealNode(self.root, "", 0).down(state, lambda: self._save_state(state), progress)
        for name, record in reversed(list(self._records(state).items())):
            if processes.stop(record):
                stopped.append(name)
                progress(f"stopped {name} (pid {record.pid})")
        if state:
            state["components"] = {}
            self._save_state(state)
        if purge and self.root.exists():
            shutil.rmtree(self.root)
            progress(f"removed {self.root}")
        return stopped

    def status(self) -> dict[str, Any]:
        state = self.load_state()
        if not state:
            return {"name": self.name, "exists": False, "running": False, "components": {}}
        layout = self._layout(state)
        report: dict[str, Any] = {
            "name": self.name, "exists": True, "topology": state["topology"], "version": state.get("version"),
            "endpoint": layout.endpoint, "kubeconfig": str(self.kubeconfig), "state_dir": str(self.root),
            "components": {},
        }
        for name, record in self._records(state).items():
            alive = processes.is_alive(record)
            report["components"][name] = {"pid": record.pid, "alive": alive,
                                          "healthy": alive and self._probe(name, layout)}
        expected = [name for name, _ in self._plan(layout)]
        for name in expected:
            report["components"].setdefault(name, {"pid": None, "alive": False, "healthy": False})
        report["running"] = all(c["alive"] for c in report["components"].values())
        report["healthy"] = all(c["healthy"] for c in report["components"].values())
        report["nodes_ready"] = self._nodes_ready(layout) if report["healthy"] else 0
        if state.get("metrics"):
            from kubebook.localcluster import metrics

            report["prometheus_url"] = metrics.prometheus_url(state)
        if state.get("real_node"):
            from kubebook.localcluster.node.runtime import RealNode

            report["real_node"] = RealNode(self.root, layout.endpoint, 0).status(state)
            report["healthy"] = report["healthy"] and all(
                c["alive"] for c in report["real_node"]["components"].values())
        return report

    def _probe(self, name: str, layout: Layout) -> bool:
        kind, _, index = name.rpartition("-")
        if kind == "etcd":
            return health.etcd_healthy(layout.pki, layout.etcd_client_urls()[int(index)])
        if kind == "kube-apiserver":
            return health.apiserver_ready(layout.pki, layout.apiserver_url(int(index)))
        if name == "haproxy":
            return health.apiserver_ready(layout.pki, layout.endpoint)
        if name in ("metrics-server", "prometheus"):
            from kubebook.localcluster import metrics

            return metrics.probe(name, self.load_state())
        if kind == "kube-controller-manager":
            return health.serving_healthy(layout.hosts[int(index)], layout.controller_manager_port)
        if kind == "kube-scheduler":
            return health.serving_healthy(layout.hosts[int(index)], layout.scheduler_port)
        return processes.port_in_use("127.0.0.1", layout.kwok_port)

    def _nodes_ready(self, layout: Layout) -> int:
        try:
            api = api_client_from_kubeconfig(str(layout.kubeconfig("super-admin")))
        except Exception:
            return 0
        try:
            return bootstrap.ready_nodes(api)
        except Exception:
            return 0
        finally:
            api.close()

    def log_path(self, component: str) -> Path:
        state = self.load_state()
        records = self._records(state)
        if component in records:
            return Path(records[component].log)
        candidates = sorted(p.stem for p in (self.root / "logs").glob("*.log")) if self.root.exists() else []
        if component in candidates:
            return self.root / "logs" / f"{component}.log"
        raise ParameterError(f"no component {component!r} in cluster {self.name!r}",
                             hint=f"choose one of: {', '.join(candidates) or '(none: the cluster never ran)'}")

