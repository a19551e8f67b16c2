"""The Gatekeeper alternative's Rego, evaluated by OPA, agrees with the admission policies case by case.

Builds kubebook-rego (the OPA Go module, v1.22.3, pinned by go.sum) on first use and
caches it; the cases are the ones the VAPs face in tests/cluster/test_provision_live.py.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from kubebook.provision import cases, gatekeeper

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests" / "gatekeeper"


@pytest.fixture(scope="module")
def rego() -> Path:
    return gatekeeper.rego_binary()


def test_each_case_is_denied_by_exactly_its_policy_and_compliant_ones_by_none(rego: Path) -> None:
    templates, constraints = gatekeeper.load(MANIFESTS)
    assert len(templates) == len(constraints) == 5
    all_cases = cases.admission_cases("prod-payments")
    verdicts = gatekeeper.evaluate(templates, constraints, all_cases, rego)
    for case in all_cases:
        expected = {case.policy} if case.policy else set()
        assert set(verdicts[case.name]) == expected, (case.name, verdicts[case.name])


def test_system_namespaces_are_excluded_like_the_vap_bindings(rego: Path) -> None:
    templates, constraints = gatekeeper.load(MANIFESTS)
    hostnet = [c for c in cases.admission_cases("kube-system") if c.policy == "kubebook-host-isolation"]
    assert gatekeeper.evaluate(templates, constraints, hostnet, rego) == {hostnet[0].name: {}}


def test_a_broken_rule_is_caught(rego: Path) -> None:
    """The comparison can fail: a template whose rule never fires lets its violation through."""
    templates, constraints = gatekeeper.load(MANIFESTS)
    broken = copy.deepcopy(templates)
    for t in broken:
        if t["metadata"]["name"] == "kubebookimagetags":
            t["spec"]["targets"][0]["rego"] = t["spec"]["targets"][0]["rego"].replace(
                'endswith(image, ":latest")', 'endswith(image, ":never")')
    latest = [c for c in cases.admission_cases("prod-web") if c.name == "image tagged :latest"]
    assert gatekeeper.evaluate(broken, constraints, latest, rego) == {latest[0].name: {}}
