"""Escalation paths: who can become cluster-admin, directly or in a few steps.

A small graph over RBAC subjects. An edge ``A -> B`` means "A can act as B";
the target node is ``cluster-admin``. Edges (each with the grant that allows it):

* holds ``*`` on ``*`` cluster-wide                       -> cluster-admin
* ``escalate`` + ``update``/``patch`` on clusterroles       -> cluster-admin (rewrite a bound role)
* ``bind`` on clusterroles + ``create`` clusterrolebindings  -> cluster-admin (bind cluster-admin)
* ``impersonate`` groups (``system:masters``)               -> cluster-admin
* ``impersonate`` users / serviceaccounts                   -> that user / service account
* ``create`` pods or pod controllers in N                   -> every service account in N (run a pod as it)
* ``create`` serviceaccounts/token in N                     -> every service account in N
* ``get``/``list`` secrets in N                             -> service accounts in N with a legacy token Secret
* ``create`` pods/exec in N                                 -> service accounts whose token a running pod in N mounts

A service account also holds what is granted to the groups it is in
(``system:serviceaccounts``, ``system:serviceaccounts:<ns>``, ``system:authenticated``),
and a user what ``system:authenticated`` holds. Breadth-first search gives the
shortest path from every subject.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubebook.audit.rbac_grants import Grant, Subject, grants, restricted_names, rule_allows

TARGET = "cluster-admin"
HOLDS = "holds * on * cluster-wide"
RBAC_GROUP = "rbac.authorization.k8s.io"
POD_CREATORS = (("", "pods"), ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
                ("apps", "daemonsets"), ("batch", "jobs"), ("batch", "cronjobs"), ("", "replicationcontrollers"))
TOKEN_SECRET = "kubernetes.io/service-account-token"
Action = tuple[str, str, str]  # (verb, API group, resource)
# Every action an edge below asks about; a rule's allowed subset is computed once.
ACTIONS: tuple[Action, ...] = (
    ("escalate", RBAC_GROUP, "clusterroles"), ("update", RBAC_GROUP, "clusterroles"),
    ("patch", RBAC_GROUP, "clusterroles"), ("bind", RBAC_GROUP, "clusterroles"),
    ("create", RBAC_GROUP, "clusterrolebindings"), ("impersonate", "", "groups"), ("impersonate", "", "users"),
    ("impersonate", "", "serviceaccounts"), *(("create", g, r) for g, r in POD_CREATORS),
    ("create", "", "serviceaccounts/token"), ("get", "", "secrets"), ("list", "", "secrets"),
    ("create", "", "pods/exec"))


@dataclass(frozen=True)
class Step:
    """One hop: ``how`` the previous node acts as ``to`` (a subject key or ``cluster-admin``)."""

    to: str
    how: str


@dataclass(frozen=True)
class EscalationPath:
    start: Subject
    steps: tuple[Step, ...]

    def describe(self) -> str:
        parts = [str(self.start)]
        for step in self.steps:
            parts.append(f"--[{step.how}]--> {label(step.to)}")
        return " ".join(parts)


def _on_object(candidates: list[Grant], name: str | None) -> list[Grant]:
    """The grants that reach object ``name`` (any object when None): resourceNames restrictions applied."""
    found = []
    for grant in candidates:
        names = restricted_names(grant)
        if not names or (name is not None and name in names):
            found.append(grant)
    return found


def label(key: str) -> str:
    """A subject key (``Kind:name``) as text: ``Kind name``."""
    if key == TARGET:
        return TARGET
    kind, _, name = key.partition(":")
    return f"{kind} {name}"


def _groups_of(subject: Subject) -> list[str]:
    if subject.kind == "ServiceAccount":
        return ["Group:system:serviceaccounts", f"Group:system:serviceaccounts:{subject.namespace}",
                "Group:system:authenticated"]
    if subject.kind == "User":
        return ["Group:system:authenticated"]
    return []


class EscalationGraph:
    """Edges computed lazily per subject from the inventory's grants, service accounts, pods and secrets."""

    def __init__(self, inv: Any, all_grants: list[Grant] | None = None) -> None:
        self.grants = grants(inv) if all_grants is None else all_grants
        self._rule_actions: dict[int, tuple[Action, ...]] = {}
        self.by_subject: dict[str, list[Grant]] = defaultdict(list)
        self.subjects: dict[str, Subject] = {}
        for grant in self.grants:
            self.by_subject[grant.subject.key].append(grant)
            self.subjects.setdefault(grant.subject.key, grant.subject)
        self.service_accounts: dict[str, set[str]] = defaultdict(set)  # namespace -> SA keys
        for sa in inv.objects("ServiceAccount"):
            meta = sa.get("metadata") or {}
            subject = Subject("ServiceAccount", str(meta.get("name")), meta.get("namespace"))
            self._add_sa(subject)
        for subject in list(self.subjects.values()):
            if subject.kind == "ServiceAccount":
                self._add_sa(subject)
        self.token_secrets: dict[str, list[tuple[str, str]]] = defaultdict(list)  # ns -> (SA key, secret)
        for secret in inv.objects("Secret"):
            meta = secret.get("metadata") or {}
            sa_name = (meta.get("annotations") or {}).get("kubernetes.io/service-account.name")
            if secret.get("type") == TOKEN_SECRET and sa_name:
                key = Subject("ServiceAccount", sa_name, meta.get("namespace")).key
                self.token_secrets[meta.get("namespace")].append((key, str(meta.get("name"))))
        self.mounted: dict[str, set[str]] = defaultdict(set)  # ns -> SA keys whose token a pod mounts
        automount = {(sa.get("metadata", {}).get("namespace"), sa.get("metadata", {}).get("name")):
                     sa.get("automountServiceAccountToken") for sa in inv.objects("ServiceAccount")}
        for pod in inv.objects("Pod"):
            meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
            ns, sa_name = meta.get("namespace"), spec.get("serviceAccountName") or "default"
            effective = spec.get("automountServiceAccountToken")
            if effective is None:
                effective = automount.get((ns, sa_name))
            if effective is not False:
                self.mounted[ns].add(Subject("ServiceAccount", sa_name, ns).key)
        self._edges: dict[str, list[Step]] = {}

    def _add_sa(self, subject: Subject) -> None:
        self.subjects.setdefault(subject.key, subject)
        self.service_accounts[subject.namespace or ""].add(subject.key)

    def effective(self, key: str) -> list[Grant]:
        """The subject's grants plus those of the groups it is implicitly in."""
        subject = self.subjects.get(key)
        held = list(self.by_subject.get(key, []))
        if subject is not None:
            for group in _groups_of(subject):
                held.extend(self.by_subject.get(group, []))
        return held

    def _actions(self, rule: dict[str, Any]) -> tuple[Action, ...]:
        """The ACTIONS a rule allows, judged once per distinct rule object (roles share their rules)."""
        found = self._rule_actions.get(id(rule))
        if found is None:
            found = self._rule_actions[id(rule)] = tuple(a for a in ACTIONS if rule_allows(rule, *a))
        return found

    def _index(self, held: list[Grant]) -> dict[Action, list[Grant]]:
        """Action -> the held grants allowing it (in held order): one pass instead of one per question."""
        index: dict[Action, list[Grant]] = defaultdict(list)
        for grant in held:
            for action in self._actions(grant.rule):
                index[action].append(grant)
        return index

    @staticmethod
    def _can(index: dict[Action, list[Grant]], verb: str, group: str, resource: str, name: str | None = None,
             *, cluster_only: bool = False) -> list[Grant]:
        """Grants allowing the action (optionally only cluster-wide ones, and on object ``name``)."""
        allowing = index.get((verb, group, resource), [])
        return _on_object([g for g in allowing if g.namespace is None] if cluster_only else allowing, name)

    def _namespaces(self, matched: Iterable[Grant]) -> dict[str, Grant]:
        """Namespace -> one grant reaching it ("*" for cluster-wide)."""
        reach: dict[str, Grant] = {}
        for grant in matched:
            reach.setdefault(grant.namespace or "*", grant)
        return reach

    def _sa_in(self, namespace: str) -> list[str]:
        if namespace == "*":
            return sorted(k for keys in self.service_accounts.values() for k in keys)
        return sorted(self.service_accounts.get(namespace, ()))

    def edges(self, key: str) -> list[Step]:
        if key in self._edges:
            return self._edges[key]
        held = self.effective(key)
        index = self._index(held)
        steps: list[Step] = []
        for grant in held:
            rule = grant.rule
            if grant.namespace is None and all("*" in (rule.get(f) or []) for f in ("verbs", "apiGroups", "resources")):
                steps.append(Step(TARGET, f"{HOLDS} via {grant.via()}"))
                break
        escalate = self._can(index, "escalate", RBAC_GROUP, "clusterroles", cluster_only=True)
        update = self._can(index, "update", RBAC_GROUP, "clusterroles", cluster_only=True) or \
            self._can(index, "patch", RBAC_GROUP, "clusterroles", cluster_only=True)
        if escalate and update:
            steps.append(Step(TARGET, f"escalate + update clusterroles via {escalate[0].via()}"))
        bind = self._can(index, "bind", RBAC_GROUP, "clusterroles", TARGET, cluster_only=True)
        create_crb = self._can(index, "create", RBAC_GROUP, "clusterrolebindings", cluster_only=True)
        if bind and create_crb:
            steps.append(Step(TARGET, f"bind cluster-admin + create clusterrolebindings via {bind[0].via()}"))
        masters = self._can(index, "impersonate", "", "groups", "system:masters", cluster_only=True)
        if masters:
            steps.append(Step(TARGET, f"impersonate group system:masters via {masters[0].via()}"))
        users = self._can(index, "impersonate", "", "users", cluster_only=True)
        if users:
            for other in sorted(self.subjects):
                subject = self.subjects[other]
                allowed = _on_object(users, subject.name) if subject.kind == "User" else []
                if other != key and allowed:
                    steps.append(Step(other, f"impersonate the user via {allowed[0].via()}"))
        for ns, grant in self._namespaces(self._can(index, "impersonate", "", "serviceaccounts")).items():
            steps.extend(Step(sa, f"impersonate via {grant.via()}") for sa in self._sa_in(ns) if sa != key)
        for group, resource in POD_CREATORS:
            for ns, grant in self._namespaces(self._can(index, "create", group, resource)).items():
                where = "any namespace" if ns == "*" else ns
                steps.extend(Step(sa, f"create {resource} in {where} running as it via {grant.via()}")
                             for sa in self._sa_in(ns) if sa != key)
        for ns, grant in self._namespaces(self._can(index, "create", "", "serviceaccounts/token")).items():
            steps.extend(Step(sa, f"create a token for it via {grant.via()}") for sa in self._sa_in(ns) if sa != key)
        readers = self._can(index, "get", "", "secrets") + self._can(index, "list", "", "secrets")
        for ns, grant in self._namespaces(readers).items():
            pairs = [p for n, items in self.token_secrets.items() if ns in ("*", n) for p in items]
            steps.extend(Step(sa, f"read its token Secret {secret} via {grant.via()}") for sa, secret in pairs
                         if sa != key)
        for ns, grant in self._namespaces(self._can(index, "create", "", "pods/exec")).items():
            mounted = sorted(k for n, keys in self.mounted.items() if ns in ("*", n) for k in keys)
            steps.extend(Step(sa, f"exec into a pod that mounts its token via {grant.via()}") for sa in mounted
                         if sa != key)
        unique: dict[str, Step] = {}
        for step in steps:
            unique.setdefault(step.to, step)
        self._edges[key] = list(unique.values())
        return self._edges[key]

    def shortest_path(self, start: str) -> tuple[Step, ...] | None:
        """Breadth-first shortest path from ``start`` to cluster-admin, or None."""
        previous: dict[str, tuple[str, Step]] = {}
        queue, seen = deque([start]), {start}
        while queue:
            node = queue.popleft()
            for step in self.edges(node):
                if step.to in seen:
                    continue
                previous[step.to] = (node, step)
                if step.to == TARGET:
                    path: list[Step] = []
                    cursor = TARGET
                    while cursor != start:
                        parent, hop = previous[cursor]
                        path.append(hop)
                        cursor = parent
                    return tuple(reversed(path))
                seen.add(step.to)
                queue.append(step.to)
        return None


def escalation_paths(inv: Any) -> list[EscalationPath]:
    """The shortest path to cluster-admin for every subject that has one, sorted by subject."""
    graph = EscalationGraph(inv)
    found = []
    for key in sorted(graph.subjects):
        path = graph.shortest_path(key)
        if path:
            found.append(EscalationPath(graph.subjects[key], path))
    return found
