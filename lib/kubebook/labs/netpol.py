"""Would this connection be allowed? NetworkPolicy semantics over what the API server holds.

Why: KWOK nodes run no pods and enforce nothing, so a lab cannot send the traffic that must
be dropped; the strongest thing the API server can prove is which policies it stores and whom
they select. This module applies the NetworkPolicy v1 rules (isolation per direction, peers
by pod and namespace selector, ports by number or name, endPort) to a source and a
destination described by namespace and labels, and says which side blocks. A check on a real
node would send packets instead; the probe says which of the two it did.
"""

from __future__ import annotations

from typing import Any

from kubebook.labs.probes import Context


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector matches ``labels`` (an empty selector matches everything)."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and present and labels[key] in values) \
                or (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def _peer_matches(peer: dict[str, Any], policy_ns: str, other: dict[str, Any]) -> bool:
    if "ipBlock" in peer:
        return False  # pods are addressed by selectors here; an ipBlock never names a pod's identity
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    if ns_sel is None and other["namespace"] != policy_ns:
        return False
    if ns_sel is not None and not selects(ns_sel, other["namespace_labels"]):
        return False
    return pod_sel is None or selects(pod_sel, other["labels"])


def _port_matches(rule_ports: list[dict[str, Any]] | None, port: int, protocol: str, names: dict[str, int]) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if (p.get("protocol") or "TCP") != protocol:
            continue
        value = p.get("port")
        if value is None:
            return True
        number = names.get(value) if isinstance(value, str) else value
        if number is not None and (number == port or (p.get("endPort") and number <= port <= p["endPort"])):
            return True
    return False


def _direction(policies: list[dict[str, Any]], subject: dict[str, Any], peer: dict[str, Any], port: int,
               protocol: str, kind: str) -> tuple[bool, list[str]]:
    """(allowed, names of the policies that isolate ``subject`` for ``kind``) for one side of a connection."""
    isolating, allowed = [], False
    for policy in policies:
        spec = policy.get("spec") or {}
        if not selects(spec.get("podSelector"), subject["labels"]):
            continue
        types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
        if kind not in types:
            continue
        isolating.append(policy["metadata"]["name"])
        field, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
        names = (peer if kind == "Egress" else subject).get("ports") or {}
        for rule in spec.get(field) or []:
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(p, policy["metadata"]["namespace"], peer) for p in peers)) \
                    and _port_matches(rule.get("ports"), port, protocol, names):
                allowed = True
    return (allowed or not isolating), isolating


def endpoint(ctx: Context, spec: dict[str, Any]) -> dict[str, Any]:
    """A connection end: ``{namespace, pod}`` (read from the API) or ``{namespace, labels}`` (described)."""
    namespace = spec["namespace"]
    ns = ctx.cluster.get_object("v1", "Namespace", namespace) or {}
    ns_labels = {**((ns.get("metadata") or {}).get("labels") or {}), "kubernetes.io/metadata.name": namespace}
    labels, ports = dict(spec.get("labels") or {}), dict(spec.get("ports") or {})
    if spec.get("pod"):
        pod = ctx.cluster.get_object("v1", "Pod", spec["pod"], namespace)
        if pod is None:
            raise LookupError(f"pod {namespace}/{spec['pod']} does not exist (reset the lab)")
        labels = (pod.get("metadata") or {}).get("labels") or {}
        ports = {p["name"]: p["containerPort"] for c in pod["spec"].get("containers") or []
                 for p in c.get("ports") or [] if p.get("name")}
    name = spec.get("pod") or ",".join(f"{k}={v}" for k, v in labels.items())
    return {"namespace": namespace, "namespace_labels": ns_labels, "labels": labels, "ports": ports,
            "name": f"{namespace}/{name}"}


def connection_allowed(ctx: Context, source: dict[str, Any], dest: dict[str, Any], port: int,
                       protocol: str = "TCP", judged_at: str | None = None) -> tuple[bool, str]:
    """Both sides must allow: the source's egress and the destination's ingress. ``judged_at`` (``source`` or
    ``destination``) judges one side only: the other end is outside the lab, and its own policies (the prod
    baseline's default deny in ``default``, say) are not the trainee's work."""
    def policies(namespace: str, side: str) -> list[dict[str, Any]]:
        if judged_at not in (None, side):
            return []
        return list(ctx.cluster.list_objects("networking.k8s.io/v1", "NetworkPolicy", namespace))

    egress_ok, egress_by = _direction(policies(source["namespace"], "source"), source, dest, port, protocol,
                                      "Egress")
    ingress_ok, ingress_by = _direction(policies(dest["namespace"], "destination"), dest, source, port, protocol,
                                        "Ingress")
    if not egress_ok:
        return False, f"egress from {source['name']} is isolated by {', '.join(egress_by)} and no rule allows it"
    if not ingress_ok:
        return False, f"ingress to {dest['name']} is isolated by {', '.join(ingress_by)} and no rule allows it"
    why = [f"egress {'allowed by a rule of ' + ', '.join(egress_by) if egress_by else 'not isolated'}",
           f"ingress {'allowed by a rule of ' + ', '.join(ingress_by) if ingress_by else 'not isolated'}"]
    if judged_at:
        why = [why[0] if judged_at == "source" else why[1], f"only the {judged_at}'s policies judged"]
    return True, "; ".join(why)


def real_node_ready(ctx: Context) -> str | None:
    """The name of a Ready node that is not simulated by KWOK, if there is one."""
    for node in ctx.cluster.list_objects("v1", "Node"):
        annotations = (node.get("metadata") or {}).get("annotations") or {}
        if "kwok.x-k8s.io/node" in annotations:
            continue
        conditions = (node.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return str(node["metadata"]["name"])
    return None


def traffic(ctx: Context, *, source: dict[str, Any], to: dict[str, Any], port: int, expect: str,
            protocol: str = "TCP", judged_at: str | None = None, **_: Any) -> tuple[bool, str]:
    """Probe: a connection from ``source`` to ``to`` on ``port`` is allowed or dropped (``judged_at``: by the
    policies of that end alone, when the other end is outside the lab)."""
    try:
        src, dst = endpoint(ctx, source), endpoint(ctx, to)
    except LookupError as error:
        return False, str(error)
    allowed, why = connection_allowed(ctx, src, dst, int(port), protocol, judged_at)
    node = real_node_ready(ctx)
    how = (f"judged from the stored NetworkPolicies (real node {node} is Ready, but the lab's pods run on "
           "KWOK nodes, which enforce nothing)") if node else \
        "judged from the stored NetworkPolicies: no Ready real node, so no packet was sent"
    verdict = "allowed" if allowed else "dropped"
    return allowed == (expect == "allowed"), \
        f"{src['name']} -> {dst['name']} {protocol}/{port}: {verdict} ({why}; {how})"
