"""Exposure and workload-hygiene engines: TLS coverage, pull-policy defaulting, kinds a source did not list."""

from __future__ import annotations

from audit_helpers import findings, of

from kubebook.audit import exposure, workload_policy


def _ingress(hosts, tls):
    return {"kind": "Ingress", "metadata": {"name": "i", "namespace": "app"},
            "spec": {"rules": [{"host": h} for h in hosts], "tls": tls}}


def test_a_wildcard_tls_entry_covers_one_label_and_a_hostless_rule_needs_a_default_certificate() -> None:
    covered = of(findings(exposure, [_ingress(["a.example.com"], [{"hosts": ["*.example.com"]}])]),
                 "exposure.ingress-tls")
    assert covered[0][0] == "PASS"
    deeper = of(findings(exposure, [_ingress(["a.b.example.com"], [{"hosts": ["*.example.com"]}])]),
                "exposure.ingress-tls")
    assert deeper[0][0] == "FAIL" and "a.b.example.com" in deeper[0][2]
    hostless = {"kind": "Ingress", "metadata": {"name": "i", "namespace": "app"}, "spec": {"rules": [{}]}}
    assert of(findings(exposure, [hostless]), "exposure.ingress-tls")[0][0] == "FAIL"
    hostless["spec"]["tls"] = [{"secretName": "default-cert"}]
    assert of(findings(exposure, [hostless]), "exposure.ingress-tls")[0][0] == "PASS"


def test_pull_policy_is_judged_after_defaulting() -> None:
    assert workload_policy.pull_policy({"image": "nginx"}) == "Always"
    assert workload_policy.pull_policy({"image": "nginx:latest"}) == "Always"
    assert workload_policy.pull_policy({"image": "nginx:1.27"}) == "IfNotPresent"
    assert workload_policy.pull_policy({"image": "nginx:1.27", "imagePullPolicy": "Never"}) == "Never"
    pinned = {"kind": "Deployment", "metadata": {"name": "d", "namespace": "app"}, "spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "nginx@sha256:" + "a" * 64, "imagePullPolicy": "IfNotPresent"}]}}}}
    assert of(findings(workload_policy, [pinned]), "workloads.image-pull-policy")[0][0] == "PASS"


class _NoListing:
    """A cluster stand-in with no generic listing: what a source that cannot list Services looks like."""

    server = "https://127.0.0.1:1"


def test_a_kind_the_cluster_source_did_not_list_is_info_never_pass() -> None:
    deployment = {"kind": "Deployment", "metadata": {"name": "d", "namespace": "app", "uid": "1"},
                  "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}}
    found = findings(exposure, [], source="cluster", cluster=_NoListing())
    assert {f.result for f in found} == {"INFO"} and len(found) == len(exposure.CHECK_IDS)
    found = findings(workload_policy, [deployment], source="cluster", cluster=_NoListing())
    assert of(found, "workloads.disruption-budget")[0][0] == "INFO"
    assert of(found, "workloads.ephemeral-storage")[0][0] == "FAIL"
