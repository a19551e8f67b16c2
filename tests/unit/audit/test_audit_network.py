"""NetworkPolicy engine: API defaults for policyTypes, default deny, open rules, CNI detection."""

from __future__ import annotations

from audit_helpers import findings, missing_fixtures, of

from kubebook.audit import network


def policy(name, selector, ns="app", **spec):
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns},
            "spec": {"podSelector": selector, **spec}}


def test_every_network_check_has_fixtures_except_the_live_only_cni_check() -> None:
    exempt = {"network.cni-enforces-policy": "needs a live cluster's kube-system: tested below"}
    assert missing_fixtures("network", exempt) == []


def test_policy_types_default_like_the_api() -> None:
    assert network.policy_types(policy("a", {})) == ["Ingress"]
    assert network.policy_types(policy("b", {}, egress=[])) == ["Ingress", "Egress"]
    assert network.policy_types(policy("c", {}, policyTypes=["Egress"])) == ["Egress"]


def test_default_deny_needs_every_pod_and_no_rules_but_allows_dns_egress() -> None:
    assert network.default_deny(policy("d", {}, policyTypes=["Ingress", "Egress"]), "Egress") == "denies all"
    dns = policy("dns", {}, policyTypes=["Egress"], egress=[{"ports": [{"port": 53, "protocol": "UDP"}]}])
    assert network.default_deny(dns, "Egress") == "denies all but DNS"
    https = policy("web", {}, policyTypes=["Egress"], egress=[{"ports": [{"port": 443}]}])
    assert network.default_deny(https, "Egress") is None
    assert network.default_deny(policy("s", {"matchLabels": {"a": "b"}}), "Ingress") is None


def test_an_ipblock_of_everything_without_ports_is_allow_all() -> None:
    everything = policy("world", {}, ingress=[{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])
    assert of(findings(network, [everything]), "network.allow-all")[0][0] == "FAIL"
    carved = policy("world", {}, ingress=[{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}])
    assert of(findings(network, [carved]), "network.allow-all")[0][0] == "PASS"


def test_system_namespaces_without_policies_are_info_and_others_fail() -> None:
    found = findings(network, [{"kind": "Namespace", "metadata": {"name": n}} for n in ("kube-system", "team")])
    verdicts = {res: result for result, res, _ in of(found, "network.default-deny-ingress")}
    assert verdicts == {"Namespace/kube-system": "INFO", "Namespace/team": "FAIL"}


def test_host_network_pods_are_info_for_selection() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "agent", "namespace": "app"},
           "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "x:1"}]}}
    assert of(findings(network, [pod]), "network.pod-unselected")[0][0] == "INFO"


def test_matchexpressions_select_pods() -> None:
    deploy = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "app"},
              "spec": {"template": {"metadata": {"labels": {"tier": "front"}}, "spec": {"containers": []}}}}
    sel = policy("front", {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]}]})
    assert of(findings(network, [deploy, sel]), "network.pod-unselected")[0][0] == "PASS"
    other = policy("back", {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]})
    assert of(findings(network, [deploy, other]), "network.pod-unselected")[0][0] == "FAIL"


def test_cni_detection_on_a_live_cluster_inventory() -> None:
    def ds(name):
        return {"kind": "DaemonSet", "metadata": {"name": name, "namespace": "kube-system"},
                "spec": {"template": {"spec": {"containers": []}}}}

    assert of(findings(network, [ds("calico-node")], source="cluster"), "network.cni-enforces-policy")[0][0] == "PASS"
    assert of(findings(network, [ds("kube-flannel-ds")], source="cluster"),
              "network.cni-enforces-policy")[0][0] == "FAIL"
    assert of(findings(network, [ds("kube-proxy")], source="cluster"), "network.cni-enforces-policy")[0][0] == "WARN"
    assert of(findings(network, [ds("calico-node")]), "network.cni-enforces-policy") == [], "manifests: not judged"
