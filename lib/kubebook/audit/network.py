"""NetworkPolicy checks (CIS 5.3): default deny, unselected pods, allow-all policies, a policy-capable CNI.

Semantics follow the NetworkPolicy API: ``policyTypes`` defaults to Ingress (plus
Egress when ``egress`` is present); a policy isolates the pods its
``podSelector`` selects for each of its types; a rule without peers, or with an
``ipBlock`` of 0.0.0.0/0 or ::/0 and no ``except``, admits everyone, and one
without ``ports`` admits every port.

System namespaces (kube-system, kube-public, kube-node-lease) are reported as INFO
instead of FAIL when they lack policies: a default-deny there can cut control-plane
add-ons off, so it is a decision to take with them, not an automatic fix.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, NamedTuple

from kubebook.audit import catalog
from kubebook.audit.grouped import Grouped
from kubebook.audit.model import Finding, Resource
from kubebook.audit.workloads import CLUSTER, not_evaluated, selector_matches, top_level_workloads
from kubebook.netpolicy import default_deny, policy_types, selects_all

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
EVERYWHERE = ("0.0.0.0/0", "::/0")
# CNI plugins that enforce NetworkPolicy, and ones known not to (matched against kube-system object names).
ENFORCING_CNI = ("calico", "cilium", "antrea", "weave", "kube-router", "canal", "romana", "kindnet")
NON_ENFORCING_CNI = ("flannel",)


def applies_to(inv: Any) -> bool:
    return inv.source in ("cluster", "manifests") and bool(
        inv.objects("Namespace") or inv.objects("NetworkPolicy") or any(True for _ in top_level_workloads(inv)))


def _open_rule(rule: dict[str, Any], direction: str) -> bool:
    peers = rule.get("from" if direction == "Ingress" else "to") or []
    if rule.get("ports"):
        return False
    if not peers:
        return True
    for peer in peers:
        block = peer.get("ipBlock") or {}
        if block.get("cidr") in EVERYWHERE and not block.get("except"):
            return True
    return False


def _namespaces(inv: Any) -> list[str]:
    names = {str((ns.get("metadata") or {}).get("name")) for ns in inv.objects("Namespace")}
    names |= {w.namespace for w in top_level_workloads(inv)}
    return sorted(n for n in names if n and n != "None")


def evaluate(inv: Any) -> Iterator[Finding]:
    errors = not_evaluated(inv, ("NetworkPolicy", "Namespace"), (
        "network.namespace-has-policy", "network.default-deny-ingress", "network.default-deny-egress",
        "network.pod-unselected", "network.allow-all"))
    if errors:
        yield from errors
        return
    by_ns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for policy in inv.objects("NetworkPolicy"):
        by_ns[(policy.get("metadata") or {}).get("namespace") or "default"].append(policy)
    for namespace in _namespaces(inv):
        yield from _namespace_checks(namespace, by_ns.get(namespace, []))
    yield from _unselected(inv, by_ns)
    yield from _allow_all(inv)
    if inv.source == "cluster":
        yield from _cni(inv)


def _namespace_checks(namespace: str, policies: list[dict[str, Any]]) -> Iterator[Finding]:
    resource = Resource("Namespace", None, namespace)
    missing = "INFO" if namespace in SYSTEM_NAMESPACES else "FAIL"
    note = " (system namespace: review with its add-ons before isolating it)" if missing == "INFO" else ""
    check = catalog.get("network.namespace-has-policy")
    if policies:
        yield Finding(check, resource, "PASS", f"{len(policies)} NetworkPolicy object(s)")
    else:
        yield Finding(check, resource, missing, f"no NetworkPolicy: every pod accepts all traffic{note}")
    for direction in ("Ingress", "Egress"):
        check = catalog.get(f"network.default-deny-{direction.lower()}")
        denying = [(p, how) for p in policies if (how := default_deny(p, direction))]
        if denying:
            policy, how = denying[0]
            name = (policy.get("metadata") or {}).get("name")
            yield Finding(check, resource, "PASS",
                          f"NetworkPolicy {name} selects every pod and {how} {direction.lower()}")
        else:
            yield Finding(check, resource, missing, f"no policy selects every pod with no {direction.lower()} "
                          f"rules: {direction.lower()} is allowed unless a narrower policy says otherwise{note}")


def _unselected(inv: Any, by_ns: dict[str, list[dict[str, Any]]]) -> Iterator[Finding]:
    check = catalog.get("network.pod-unselected")
    grouped = Grouped()
    for workload in top_level_workloads(inv):
        if workload.kind == "Pod" and (workload.obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        labels = workload.pod_meta.get("labels") or {}
        if workload.spec.get("hostNetwork"):
            grouped.add(check, workload.resource, "INFO", "uses hostNetwork: NetworkPolicy does not apply to it")
            continue
        selecting = [str((p.get("metadata") or {}).get("name")) for p in by_ns.get(workload.namespace, [])
                     if selector_matches((p.get("spec") or {}).get("podSelector") or {}, labels)]
        if selecting:
            grouped.add(check, workload.resource, "PASS", f"selected by {', '.join(sorted(selecting))}")
        else:
            grouped.add(check, workload.resource, "FAIL", "no NetworkPolicy selects its pods: they accept and "
                        "send any traffic")
    yield from grouped.entries()  # no running workload: nothing judged, left out of the score


def _allow_all(inv: Any) -> Iterator[Finding]:
    check = catalog.get("network.allow-all")
    policies = inv.objects("NetworkPolicy")
    for policy in policies:
        spec = policy.get("spec") or {}
        opened = [d.lower() for d in policy_types(policy)
                  if any(_open_rule(rule, d) for rule in spec.get(d.lower()) or [])]
        resource = Resource.of(policy, "NetworkPolicy")
        if opened:
            scope = "every pod" if selects_all(policy) else "the pods it selects"
            yield Finding(check, resource, "FAIL", f"allows all {' and '.join(opened)} on all ports for {scope}, "
                          "cancelling any default deny")
        else:
            yield Finding(check, resource, "PASS", "every rule names peers or ports")
    if not policies:
        yield Finding(check, CLUSTER, "PASS", "no NetworkPolicy in the inventory")


def _cni(inv: Any) -> Iterator[Finding]:
    """A NetworkPolicy-enforcing CNI among kube-system DaemonSets/Pods (names matched)."""
    check = catalog.get("network.cni-enforces-policy")
    names = [str((o.get("metadata") or {}).get("name", "")) for kind in ("DaemonSet", "Pod")
             for o in inv.objects(kind) if (o.get("metadata") or {}).get("namespace") == "kube-system"]
    enforcing = sorted({cni for cni in ENFORCING_CNI for n in names if cni in n})
    non_enforcing = sorted({cni for cni in NON_ENFORCING_CNI for n in names if cni in n})
    host = host_policy_firewalls(inv)
    if not enforcing and host:
        running = [agent for agent in host if agent.running]
        if running:
            kwok = _kwok_nodes(inv)
            yield Finding(check, CLUSTER, "PASS", "; ".join(agent.describe() for agent in running) + (
                f"; the {kwok} KWOK node(s) run no pod network for a policy to act on" if kwok else ""))
        else:
            yield Finding(check, CLUSTER, "FAIL", "; ".join(agent.describe() for agent in host))
        return
    if enforcing:
        yield Finding(check, CLUSTER, "PASS", f"NetworkPolicy-enforcing CNI found: {', '.join(enforcing)}")
    elif non_enforcing:
        yield Finding(check, CLUSTER, "FAIL", f"{', '.join(non_enforcing)} does not enforce NetworkPolicy: "
                      "policies exist only on paper")
    else:
        yield Finding(check, CLUSTER, "WARN", "no known NetworkPolicy-enforcing CNI runs in kube-system: "
                      "policies may be accepted by the API but not enforced (KWOK nodes enforce none)")


REAL_NODE_LABEL = "kubebook.io/node-type"


class HostFirewall(NamedTuple):
    """kube-router run by a kubebook local cluster as a host process on its real node (not a pod)."""

    node: str
    cluster: str
    alive: bool
    firewall: bool
    registered: bool

    @property
    def running(self) -> bool:
        """Enforcing: the process runs, with its firewall on, for a Node the API server knows."""
        return self.alive and self.firewall and self.registered

    def describe(self) -> str:
        where = f"real node {self.node} of local cluster {self.cluster}"
        if not self.alive:
            return f"kube-router, the NetworkPolicy firewall of {where}, is not running: policies are not enforced"
        if not self.firewall:
            return f"kube-router on {where} runs without --run-firewall=true: it enforces no NetworkPolicy"
        if not self.registered:
            return f"{where} is not a registered Node: its kube-router polices no pod the API server knows"
        return (f"kube-router enforces NetworkPolicy on {where} (a host process with --run-firewall=true, "
                "not a kube-system pod)")


def host_policy_firewalls(inv: Any) -> list[HostFirewall]:
    """The local real node's kube-router, judged from the cluster's state, its live process and the Node object.

    kubebook's real node runs kube-router as a host process beside the kubelet, so no
    kube-system DaemonSet or Pod names it; its state.json records the process, /proc says
    whether it still runs and with which flags, and the Node it polices must be registered.
    Empty for any cluster that is not a kubebook local control plane with a real node.
    """
    server = getattr(inv.cluster, "server", None)
    if not server:
        return []
    from kubebook.localcluster import cluster_dir, name_serving, processes

    name = name_serving(server)
    if not name:
        return []
    try:
        state = json.loads((cluster_dir(name) / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    node = state.get("real_node") if isinstance(state, dict) else None
    if not isinstance(node, dict) or not node.get("name"):
        return []
    record = (node.get("components") or {}).get("kube-router") or {}
    running, argv = False, list(record.get("argv") or [])
    if record.get("pid"):
        with contextlib.suppress(TypeError, ValueError):
            running = processes.is_alive(processes.ProcessRecord(
                component="kube-router", pid=int(record["pid"]), argv=argv, log=str(record.get("log", ""))))
            argv = (processes.cmdline(int(record["pid"])) or argv) if running else argv
    registered = any((n.get("metadata") or {}).get("name") == node["name"] for n in inv.objects("Node"))
    firewall = "--run-firewall=true" in argv or "--run-firewall" in argv
    return [HostFirewall(str(node["name"]), name, running, firewall, registered)]


def _kwok_nodes(inv: Any) -> int:
    """Nodes KWOK simulates (annotation ``kwok.x-k8s.io/node: fake``): no kubelet, no pod network."""
    return sum(1 for n in inv.objects("Node")
               if ((n.get("metadata") or {}).get("annotations") or {}).get("kwok.x-k8s.io/node") == "fake")
