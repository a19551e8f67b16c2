"""PodSecurity admission around the checks: configuration, namespace labels, exemptions (upstream semantics).

Cases follow k8s.io/pod-security-admission v0.37.2 (api/helpers.go PolicyToEvaluate,
admission/admission.go ValidatePod/EvaluatePod); the live comparison with an API
server whose configuration exempts a namespace, a user and a runtime class is in
tests/cluster/test_pss_agreement.py.
"""

from __future__ import annotations

import pytest

from kubebook.audit import AuditInventory, pss
from kubebook.audit.pss_admission import LevelVersion, PodSecurityConfig, admit_pod, load_config, policy_for
from kubebook.errors import AuditError

CONFIG = """
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: baseline, enforce-version: latest, warn: restricted}
    exemptions: {usernames: [deployer], runtimeClasses: [kata], namespaces: [legacy]}
"""
PRIVILEGED_POD = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "securityContext": {
    "privileged": True}}]}}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "admission.yaml"
    path.write_text(CONFIG)
    return load_config(path)


def test_configuration_is_read_with_upstream_defaulting(config, tmp_path) -> None:
    assert config.defaults.enforce == LevelVersion("baseline") and config.defaults.audit == LevelVersion("privileged")
    assert config.namespaces == ("legacy",) and config.usernames == ("deployer",)
    assert config.runtime_classes == ("kata",)
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.replace("enforce: baseline", "enforce: strict"))
    with pytest.raises(AuditError, match=r"defaults\.enforce='strict'"):
        load_config(bad)


def test_exempt_namespace_user_and_runtime_class_are_admitted_unchecked(config) -> None:
    assert admit_pod(PRIVILEGED_POD, "legacy", {}, config).exemption == "namespace"
    assert admit_pod(PRIVILEGED_POD, "app", {}, config, username="deployer").exemption == "user"
    kata = {**PRIVILEGED_POD, "spec": {**PRIVILEGED_POD["spec"], "runtimeClassName": "kata"}}
    assert admit_pod(kata, "app", {pss.ENFORCE_LABEL: "restricted"}, config).exemption == "runtimeClass"
    denied = admit_pod(PRIVILEGED_POD, "app", {}, config)  # the configured default enforce level applies
    assert not denied.allowed and denied.message.startswith('violates PodSecurity "baseline:latest": privileged')
    # the namespace exemption wins even over an explicit enforce label
    assert admit_pod(PRIVILEGED_POD, "legacy", {pss.ENFORCE_LABEL: "restricted"}, config).allowed


def test_labels_override_defaults_like_policy_to_evaluate() -> None:
    defaults = PodSecurityConfig().defaults
    policy, errors = policy_for({pss.ENFORCE_LABEL: "restricted"}, defaults)
    assert str(policy.enforce) == "restricted:latest" and str(policy.warn) == "restricted:latest" and not errors
    policy, errors = policy_for({pss.ENFORCE_LABEL: "strict", "pod-security.kubernetes.io/warn": "nope"}, defaults)
    assert policy.enforce.level == "restricted" and policy.warn.level == "privileged" and len(errors) == 2
    policy, errors = policy_for({pss.ENFORCE_LABEL: "baseline", "pod-security.kubernetes.io/enforce-version": "1.2"},
                                defaults)
    assert str(policy.enforce) == "baseline:latest" and errors
    policy, _ = policy_for({"pod-security.kubernetes.io/enforce-version": "v1.24"},
                           PodSecurityConfig(defaults=type(defaults)(LevelVersion("baseline", "v1.30"),
                                                                     defaults.audit, defaults.warn)).defaults)
    assert str(policy.enforce) == "baseline:v1.24"


def test_the_audit_reports_an_exempt_namespace_as_not_enforced(config) -> None:
    """A namespace labelled restricted but exempted on the API server is not enforced; an unlabelled one
    gets the configured default; exempt usernames are a cluster-wide warning."""
    namespaces = [{"kind": "Namespace", "metadata": {"name": "legacy", "labels": {pss.ENFORCE_LABEL: "restricted"}}},
                  {"kind": "Namespace", "metadata": {"name": "plain"}}]
    inv = AuditInventory.from_objects(namespaces)
    verdicts = {f.resource.name: (f.result, f.message) for f in pss.evaluate(inv)
                if f.check.id == "pss.namespace-enforce"}
    assert verdicts["legacy"][0] == "PASS"  # without the configuration the label is taken at its word
    inv.pod_security_config = config
    verdicts = {f.resource.name: (f.result, f.message) for f in pss.evaluate(inv)
                if f.check.id == "pss.namespace-enforce"}
    assert verdicts["legacy"][0] == "FAIL" and "exempt" in verdicts["legacy"][1]
    assert verdicts["plain"][0] == "FAIL" and "default enforce=baseline:latest" in verdicts["plain"][1]
    assert verdicts["pod-security-admission"][0] == "WARN" and "deployer" in verdicts["pod-security-admission"][1]
