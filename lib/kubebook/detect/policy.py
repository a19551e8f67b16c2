"""Which rules an audit policy lets fire: the level the policy gives each request a rule watches.

The API server applies the first policy rule that matches a request (users, userGroups, verbs,
resources with ``*``, ``*/sub`` and ``res/*``, namespaces, nonResourceURLs), so a rule reading a pod spec
(``requestObject``) silently never fires when pods are logged at Metadata. Each detection rule's
alternatives are expanded into the (verb, group, resource, subresource, namespace, user) requests it
watches; a request the rule does not pin is evaluated as an ordinary authenticated user's
(``alice`` in ``system:authenticated``) on a resource no policy rule names, i.e. the catch-all.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebook import yamlload
from kubebook.detect.model import LEVELS, Rule
from kubebook.errors import ParameterError

# The API group of the resources the rules name (a policy names its resources with their group).
GROUPS: dict[str, tuple[str, ...]] = {
    "clusterroles": ("rbac.authorization.k8s.io",), "roles": ("rbac.authorization.k8s.io",),
    "clusterrolebindings": ("rbac.authorization.k8s.io",), "rolebindings": ("rbac.authorization.k8s.io",),
    "certificatesigningrequests": ("certificates.k8s.io",),
    "selfsubjectrulesreviews": ("authorization.k8s.io",), "selfsubjectaccessreviews": ("authorization.k8s.io",),
    "mutatingwebhookconfigurations": ("admissionregistration.k8s.io",),
    "validatingwebhookconfigurations": ("admissionregistration.k8s.io",),
    "validatingadmissionpolicies": ("admissionregistration.k8s.io",),
    "validatingadmissionpolicybindings": ("admissionregistration.k8s.io",),
    "mutatingadmissionpolicies": ("admissionregistration.k8s.io",),
    "mutatingadmissionpolicybindings": ("admissionregistration.k8s.io",),
    "events": ("", "events.k8s.io"),
}
ANY_VERBS = ("get", "list", "create", "update", "patch", "delete")
OTHER_RESOURCE = "<any other resource>"


@dataclass(frozen=True)
class Request:
    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    user: str
    groups: tuple[str, ...]

    def label(self) -> str:
        res = self.resource + (f"/{self.subresource}" if self.subresource else "")
        group = f" ({self.group})" if self.group else ""
        who = f" as {self.user}" if self.user != "alice" else ""
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} {res}{group}{where}{who}"


def load_policy(path: str | Path) -> dict[str, Any]:
    """An audit.k8s.io Policy file, refused in one line when it is not one."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise ParameterError(f"--audit-policy {source}: no such file; give a kube-apiserver --audit-policy-file")
    document = yamlload.load_file(source, f"audit policy {source}")
    if not isinstance(document, dict) or document.get("kind") != "Policy" or not isinstance(
            document.get("rules"), list):
        raise ParameterError(f"--audit-policy {source}: not an audit Policy (kind: Policy with a rules list); "
                             "give a kube-apiserver --audit-policy-file")
    for index, rule in enumerate(document["rules"]):
        if not isinstance(rule, dict) or rule.get("level") not in LEVELS:
            raise ParameterError(f"--audit-policy {source}: rules[{index}] has no level of {', '.join(LEVELS)}")
    return document


def _resource_matches(entries: list[dict[str, Any]], request: Request) -> bool:
    combined = request.resource + (f"/{request.subresource}" if request.subresource else "")
    for entry in entries:
        if (entry.get("group") or "") != request.group or entry.get("resourceNames"):
            continue  # a rule for named objects only does not cover the rest
        names = entry.get("resources") or []
        if not names:
            return True  # every resource of the group
        for res in names:
            if res in (combined, "*"):
                return True
            if request.subresource and res.startswith("*/") and res[2:] == request.subresource:
                return True
            if res.endswith("/*") and res[:-2] == request.resource:
                return True
    return False


def level_for(policy: dict[str, Any], request: Request) -> str:
    """The level of the first policy rule that matches (``None`` when none does, as the API server)."""
    omitted = set(policy.get("omitStages") or [])
    for rule in policy["rules"]:
        if rule.get("nonResourceURLs"):
            continue  # the rules watch resource requests
        if rule.get("users") and request.user not in rule["users"]:
            continue
        if rule.get("userGroups") and not set(rule["userGroups"]) & set(request.groups):
            continue
        if rule.get("verbs") and request.verb not in rule["verbs"]:
            continue
        if rule.get("resources") and (request.resource == OTHER_RESOURCE
                                      or not _resource_matches(rule["resources"], request)):
            continue
        if rule.get("namespaces") and request.namespace not in rule["namespaces"]:
            continue
        if "ResponseComplete" in omitted | set(rule.get("omitStages") or []):
            return "None"
        return str(rule["level"])
    return "None"


def _values(spec: Any) -> list[Any] | None:
    """The values a condition pins (``eq``/``in``/a scalar/a list), or None when it pins none."""
    if spec is None:
        return None
    if isinstance(spec, dict):
        if "eq" in spec:
            return [spec["eq"]]
        if "in" in spec:
            return list(spec["in"]) if isinstance(spec["in"], list) else [spec["in"]]
        if spec.get("exists") is False:
            return [""]
        return None
    return list(spec) if isinstance(spec, list) else [spec]


def requests(rule: Rule) -> list[Request]:
    """The requests the rule's alternatives watch."""
    found: list[Request] = []
    for alt in rule.when:
        verbs = _values(alt.get("verb")) or list(ANY_VERBS)
        resources = _values(alt.get("objectRef.resource")) or [OTHER_RESOURCE]
        subs = _values(alt.get("objectRef.subresource")) or [""]
        namespaces = _values(alt.get("objectRef.namespace")) or [""]
        users = _values(alt.get("user.username")) or ["alice"]
        user_groups = _values(alt.get("user.groups[]"))
        pinned_groups = _values(alt.get("objectRef.apiGroup"))
        for verb, resource, sub, namespace, user in itertools.product(verbs, resources, subs, namespaces, users):
            groups = pinned_groups or list(GROUPS.get(resource, ("",)))
            member = tuple(user_groups) if user_groups else (
                ("system:unauthenticated",) if user == "system:anonymous" else ("system:authenticated",))
            for group in groups:
                found.append(Request(verb, group, resource, str(sub or ""), str(namespace or ""), str(user), member))
    return list(dict.fromkeys(found))


def coverage(policy: dict[str, Any], rules: tuple[Rule, ...] | list[Rule]) -> list[dict[str, Any]]:
    """Per rule: ``fires`` (every watched request is logged at the level it needs), ``partial`` or
    ``cannot_fire``, with the level of each request and, for the short ones, what the policy would need."""
    rows = []
    for rule in rules:
        need = LEVELS.index(rule.level)
        levels = {request.label(): level_for(policy, request) for request in requests(rule)}
        short = [label for label, level in levels.items() if LEVELS.index(level) < need]
        status = "fires" if not short else ("cannot_fire" if len(short) == len(levels) else "partial")
        rows.append({"rule": rule.id, "severity": rule.severity, "needs": rule.level, "status": status,
                     "levels": levels, "short": short,
                     "would_need": (f"log {', '.join(short)} at {rule.level} or above" if short else "")})
    return rows
