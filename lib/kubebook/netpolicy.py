"""What a NetworkPolicy isolates, read from its spec: the one definition the audit and provisioning share.

The audit's network checks (CIS 5.3) and provisioning's behavioural proof both ask whether a namespace is
denied by default; two engines may not import each other, so the answer lives here, below both. Semantics
follow the NetworkPolicy API: ``policyTypes`` defaults to Ingress (plus Egress when ``egress`` is present), and
a policy isolates the pods its ``podSelector`` selects for each of its types.
"""

from __future__ import annotations

from typing import Any

DNS_PORTS = (53, "53", "dns", "dns-tcp")


def policy_types(policy: dict[str, Any]) -> list[str]:
    """The directions the policy isolates: its ``policyTypes``, or what the API defaults them to."""
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return list(spec["policyTypes"])
    return ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]


def selects_all(policy: dict[str, Any]) -> bool:
    """Whether the policy's ``podSelector`` selects every pod of its namespace."""
    selector = (policy.get("spec") or {}).get("podSelector") or {}
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def only_dns(rules: list[dict[str, Any]]) -> bool:
    """Whether every rule admits DNS ports only (a default deny that still lets pods resolve names)."""
    ports = [p for rule in rules for p in (rule.get("ports") or [None])]
    return bool(ports) and all(p is not None and p.get("port") in DNS_PORTS for p in ports)


def default_deny(policy: dict[str, Any], direction: str) -> str | None:
    """How the policy denies ``direction`` by default for its whole namespace, or None."""
    if direction not in policy_types(policy) or not selects_all(policy):
        return None
    rules = (policy.get("spec") or {}).get(direction.lower()) or []
    if not rules:
        return "denies all"
    if direction == "Egress" and only_dns(rules):
        return "denies all but DNS"
    return None
