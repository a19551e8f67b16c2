"""RBAC engine: RBAC matching rules, built-in grants, per-binding verdicts and escalation paths."""

from __future__ import annotations

from audit_helpers import findings, missing_fixtures, of

from kubebook.audit import AuditInventory, rbac
from kubebook.audit.rbac_grants import cluster_role_rules, resource_matches, rule_allows
from kubebook.audit.rbac_paths import escalation_paths

BOOT = {"kubernetes.io/bootstrapping": "rbac-defaults"}


def crole(name, rules, labels=None, **extra):
    return {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}}, "rules": rules, **extra}


def crb(name, role, subjects, labels=None):
    return {"kind": "ClusterRoleBinding", "metadata": {"name": name, "labels": labels or {}},
            "roleRef": {"kind": "ClusterRole", "name": role}, "subjects": subjects}


def rb(name, ns, role, subjects, kind="Role"):
    return {"kind": "RoleBinding", "metadata": {"name": name, "namespace": ns},
            "roleRef": {"kind": kind, "name": role}, "subjects": subjects}


ADMIN = crole("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], BOOT)
BOB = [{"kind": "User", "name": "bob"}]


def test_every_rbac_check_has_pass_and_fail_fixtures() -> None:
    assert missing_fixtures("rbac", {}) == []


def test_resource_matching_follows_the_api_server() -> None:
    assert resource_matches(["pods/*"], "pods/exec")
    assert resource_matches(["*/scale"], "deployments/scale")
    assert resource_matches(["*"], "nodes/proxy")
    assert not resource_matches(["pods"], "pods/exec"), "the base resource does not grant its subresources"
    assert rule_allows({"verbs": ["*"], "apiGroups": [""], "resources": ["secrets"]}, "list", "", "secrets")
    assert not rule_allows({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["secrets"]}, "get", "", "secrets")


def test_aggregated_cluster_role_gets_the_rules_it_selects() -> None:
    piece = crole("piece", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}], {"agg": "yes"})
    whole = crole("whole", [], aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]})
    assert cluster_role_rules([piece, whole])["whole"] == piece["rules"]
    found = findings(rbac, [piece, whole, crb("bob-whole", "whole", BOB)])
    assert of(found, "rbac.secret-read")[0][:2] == ("FAIL", "ClusterRoleBinding/bob-whole")


def test_bootstrap_grant_to_system_identity_is_info_but_a_user_added_to_it_fails() -> None:
    builtin = crb("cluster-admin", "cluster-admin", [{"kind": "Group", "name": "system:masters"}], BOOT)
    assert [r for r, _, _ in of(findings(rbac, [ADMIN, builtin]), "rbac.cluster-admin-binding")] == ["INFO", "PASS"]
    tampered = crb("cluster-admin", "cluster-admin", [{"kind": "Group", "name": "system:masters"}, *BOB], BOOT)
    results = of(findings(rbac, [ADMIN, tampered]), "rbac.cluster-admin-binding")
    assert ("FAIL", "ClusterRoleBinding/cluster-admin") in [(r, res) for r, res, _ in results]
    assert any("User bob" in msg for _, _, msg in results)


def test_everyone_groups_are_never_treated_as_system_identities() -> None:
    reader = crole("system:secret-reader", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}], BOOT)
    leak = crb("system:leak", "system:secret-reader", [{"kind": "Group", "name": "system:authenticated"}], BOOT)
    assert of(findings(rbac, [reader, leak]), "rbac.secret-read")[0][0] == "FAIL"


def test_resource_names_restriction_is_a_warning_not_a_failure() -> None:
    rule = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["app-config"]}
    found = of(findings(rbac, [crole("one", [rule]), crb("bob-one", "one", BOB)]), "rbac.secret-read")
    assert found[0][0] == "WARN" and "app-config" in found[0][2]


def test_cluster_admin_holders_are_reported_once_and_noted_elsewhere() -> None:
    found = findings(rbac, [ADMIN, crb("bob-admin", "cluster-admin", BOB)])
    assert of(found, "rbac.cluster-admin-binding")[0][0] == "FAIL"
    pod_create = of(found, "rbac.pod-create")
    assert [r for r, _, _ in pod_create] == ["INFO", "PASS"] and "bob" in pod_create[0][2]


def test_impersonating_system_masters_is_a_one_step_escalation() -> None:
    imp = crole("imp", [{"apiGroups": [""], "resources": ["groups"], "verbs": ["impersonate"]}])
    paths = escalation_paths(AuditInventory.from_objects([imp, crb("bob-imp", "imp", BOB)]))
    assert [(str(p.start), len(p.steps)) for p in paths] == [("User bob", 1)]
    assert "system:masters" in paths[0].steps[0].how


def test_reading_a_legacy_token_secret_leads_to_its_service_account() -> None:
    read = {"kind": "Role", "metadata": {"name": "read", "namespace": "ops"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    token = {"kind": "Secret", "type": "kubernetes.io/service-account-token",
             "metadata": {"name": "deployer-token", "namespace": "ops",
                          "annotations": {"kubernetes.io/service-account.name": "deployer"}}}
    objects = [ADMIN, read, rb("bob-read", "ops", "read", BOB), token,
               crb("deployer-admin", "cluster-admin", [{"kind": "ServiceAccount", "name": "deployer",
                                                         "namespace": "ops"}])]
    found = of(findings(rbac, objects), "rbac.escalation-path")
    bob = [msg for result, res, msg in found if res == "User/bob"]
    assert bob and "deployer-token" in bob[0] and "2 step" in bob[0]


def test_exec_into_a_pod_that_mounts_a_powerful_token() -> None:
    exec_role = {"kind": "Role", "metadata": {"name": "exec", "namespace": "ops"},
                 "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]}
    pod = {"kind": "Pod", "metadata": {"name": "runner", "namespace": "ops"},
           "spec": {"serviceAccountName": "ci", "containers": [{"name": "c", "image": "x:1"}]}}
    objects = [ADMIN, exec_role, rb("bob-exec", "ops", "exec", BOB), pod,
               crb("ci-admin", "cluster-admin", [{"kind": "ServiceAccount", "name": "ci", "namespace": "ops"}])]
    paths = {str(p.start): p for p in escalation_paths(AuditInventory.from_objects(objects))}
    assert "exec into a pod" in paths["User bob"].steps[0].how
    pod["spec"]["automountServiceAccountToken"] = False
    paths = {str(p.start): p for p in escalation_paths(AuditInventory.from_objects(objects))}
    assert "User bob" not in paths, "a pod without a mounted token is no path"


def test_unreadable_rbac_kinds_make_every_rbac_check_an_error() -> None:
    inv = AuditInventory.from_objects([crb("x", "y", BOB)], source="cluster")
    inv.unreadable["ClusterRole"] = "listing ClusterRole failed: 403 Forbidden"
    found = list(rbac.evaluate(inv))
    assert {f.check.id for f in found} == set(rbac.CHECK_IDS)
    assert {f.result for f in found} == {"ERROR"}


def test_token_automount_passes_when_the_account_holds_rules() -> None:
    sa = {"kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "app"}}
    role = {"kind": "Role", "metadata": {"name": "read", "namespace": "app"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}
    deploy = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "app"},
              "spec": {"template": {"spec": {"serviceAccountName": "web", "containers": [{"name": "c"}]}}}}
    without = of(findings(rbac, [sa, deploy]), "rbac.token-automount")
    assert without[0][0] == "FAIL"
    bound = rb("web-read", "app", "read", [{"kind": "ServiceAccount", "name": "web"}])
    assert of(findings(rbac, [sa, deploy, role, bound]), "rbac.token-automount")[0][0] == "PASS"


NS_WILDCARD = [{"kind": "Role", "metadata": {"name": "all", "namespace": "app"},
                "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "create", "impersonate",
                                                                             "bind", "escalate"]}]},
               rb("bob-all", "app", "all", BOB)]


def test_a_role_binding_cannot_grant_cluster_scoped_resources() -> None:
    """nodes/proxy, persistentvolumes and impersonating users/groups carry no namespace: a RoleBinding
    cannot grant them, whatever its Role says (binding a ClusterRole in the namespace it can)."""
    found = findings(rbac, NS_WILDCARD)
    assert of(found, "rbac.node-proxy")[0][0] == "PASS"
    assert of(found, "rbac.pv-create")[0][0] == "PASS"
    assert of(found, "rbac.webhook-config")[0][0] == "PASS"
    [(result, _, message)] = of(found, "rbac.bind-escalate-impersonate")
    assert result == "FAIL" and "impersonate serviceaccounts" in message and "bind clusterroles" in message
    assert "users" not in message and "groups" not in message and "escalate clusterroles" not in message
    assert of(found, "rbac.pod-create")[0][0] == "FAIL"
    cluster_wide = [crole("all", NS_WILDCARD[0]["rules"]), crb("bob-all", "all", BOB)]
    found = findings(rbac, cluster_wide)
    assert of(found, "rbac.node-proxy")[0][0] == "FAIL" and of(found, "rbac.pv-create")[0][0] == "FAIL"
    assert "impersonate users" in of(found, "rbac.bind-escalate-impersonate")[0][2]


def test_scope_table_and_discovery_rows() -> None:
    from kubebook.audit import rbac_scope

    table = rbac_scope.builtin()
    assert not table.namespaced("", "nodes/proxy") and table.namespaced("", "pods/exec")
    assert table.namespaced("example.com", "widgets")  # unknown: never hides a grant
    assert table.grantable_in_namespace("bind", "rbac.authorization.k8s.io", "clusterroles")
    assert not table.grantable_in_namespace("escalate", "rbac.authorization.k8s.io", "clusterroles")
    live = rbac_scope.from_discovery([("example.com", "widgets", False), ("", "nodes", False), ("", "pods", True)])
    assert not live.namespaced("example.com", "widgets") and not live.namespaced("", "users")


def test_token_automount_fails_a_workload_on_the_implicit_default_account_even_when_it_is_bound() -> None:
    """No serviceAccountName = no evidence the workload needs the API (CIS 5.1.5/5.1.6): FAIL, naming the binding."""
    role = {"kind": "Role", "metadata": {"name": "read", "namespace": "app"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}
    bound = rb("default-read", "app", "read", [{"kind": "ServiceAccount", "name": "default"}])
    implicit = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "app"},
                "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}
    [(result, _, message)] = of(findings(rbac, [implicit, role, bound]), "rbac.token-automount")
    assert result == "FAIL" and "RoleBinding app/default-read" in message and "no serviceAccountName" in message
    explicit = {**implicit, "spec": {"template": {"spec": {"serviceAccountName": "default",
                                                            "containers": [{"name": "c"}]}}}}
    assert of(findings(rbac, [explicit, role, bound]), "rbac.token-automount")[0][0] == "PASS"
    off = {**implicit, "spec": {"template": {"spec": {"automountServiceAccountToken": False,
                                                       "containers": [{"name": "c"}]}}}}
    assert of(findings(rbac, [off, role, bound]), "rbac.token-automount")[0][0] == "PASS"
