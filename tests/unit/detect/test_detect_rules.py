"""Every detection rule fires on its firing fixture and stays quiet on its non-firing one.

The fixtures live beside the rules (lib/kubebook/detect/rules/*.yaml): one test walks them all, so a rule
whose matcher is broken (a typo in a field path, an operator that never holds) fails here by name.
"""

from __future__ import annotations

import pytest

from kubebook.detect import catalog, model
from kubebook.errors import ParameterError

RULES = catalog.catalogue()
REQUIRED_COVERAGE = {
    "pod-exec", "pod-attach", "pod-port-forward", "ephemeral-container", "privileged-pod", "host-namespace-pod",
    "sensitive-hostpath-pod", "clusterrole-wildcard", "clusterrole-pod-exec", "cluster-admin-binding",
    "anonymous-allowed", "secrets-list-cluster-wide", "token-request-other-sa", "impersonation",
    "permission-enumeration", "csr-approved", "admission-webhook-changed", "admission-policy-changed",
    "psa-relaxed", "rbac-bind-escalate-impersonate-grant", "nodes-proxy", "events-deleted",
    "serviceaccount-in-kube-system", "nodeport-service", "configmap-credentials",
}


def test_the_catalogue_covers_the_behaviour_classes() -> None:
    assert {r.id for r in RULES} >= REQUIRED_COVERAGE


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_fires_on_its_fixture_and_not_on_its_quiet_one(rule: model.Rule) -> None:
    fires, quiet = catalog.fixture_events(rule, "fires"), catalog.fixture_events(rule, "quiet")
    assert fires and quiet, f"{rule.id} needs at least one firing and one non-firing fixture"
    for event in fires:
        assert rule.matches(event), f"{rule.id} did not fire on {event}"
    for event in quiet:
        assert not rule.matches(event), f"{rule.id} fired on its quiet fixture {event}"


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_record_is_complete_and_its_level_covers_its_paths(rule: model.Rule) -> None:
    assert rule.title and rule.message and rule.techniques
    assert any(t.startswith("T1") for t in rule.techniques), "an ATT&CK technique id"
    assert all(t.startswith(("MS-TA9", "T1")) for t in rule.techniques)
    assert model.LEVELS.index(rule.level) >= model.LEVELS.index(model.needed_level(rule)), \
        f"{rule.id} reads {model.needed_level(rule)} fields but says it needs only {rule.level}"


def test_path_walks_lists_keys_and_dotted_keys() -> None:
    event = {"requestObject": {"spec": {"containers": [{"a": 1}, {"a": 2}]},
                               "metadata": {"labels": {"x.io/y": "v"}}, "data": {"K": 1}}}
    assert list(model.walk(event, model.split_path("requestObject.spec.containers[].a"))) == [1, 2]
    assert list(model.walk(event, model.split_path("requestObject.metadata.labels['x.io/y']"))) == ["v"]
    assert list(model.walk(event, model.split_path("requestObject.data{}"))) == ["K"]


@pytest.mark.parametrize("record, words", [
    ({"id": "x", "title": "t", "severity": "urgent", "techniques": ["T1"], "level": "Metadata", "message": "m",
      "when": [{"verb": "get"}]}, "severity"),
    ({"id": "x", "title": "t", "severity": "low", "techniques": ["T1"], "level": "Metadata", "message": "m",
      "when": [{"verbs": "get"}]}, "not an audit-event field"),
    ({"id": "x", "title": "t", "severity": "low", "techniques": ["T1"], "level": "Metadata", "message": "m",
      "when": [{"verb": {"like": "g"}}]}, "unknown operator"),
    ({"id": "x", "title": "t", "severity": "low", "level": "Metadata", "message": "m", "when": [{"verb": "g"}]},
     "lacks techniques"),
])
def test_a_malformed_rule_is_refused_with_what_would_be_right(record: dict, words: str) -> None:
    with pytest.raises(ParameterError, match=words):
        model.build_rule(record, "rules.yaml")
