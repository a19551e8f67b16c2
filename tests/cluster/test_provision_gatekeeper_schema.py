"""The Gatekeeper alternative against Gatekeeper's own schemas, judged by the API server.

Gatekeeper cannot run here, but its ConstraintTemplate CRD (copied from the v3.21.0
module) can be installed: the API server then validates every template against it
(server-side dry-run creates). Constraints are validated against the CRD Gatekeeper would
generate from each template (group constraints.gatekeeper.sh, the template's parameter
schema under spec.parameters). The Rego itself is evaluated in tests/unit/provision/test_provision_gatekeeper.py.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubebook.cluster import Cluster
from kubebook.errors import ApiError
from kubebook.provision import gatekeeper

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "tests" / "fixtures" / "gatekeeper" / "constrainttemplate-crd.yaml"
CRD_API = "apiextensions.k8s.io/v1"


def constraint_crd(template: dict) -> dict:
    """The CRD Gatekeeper generates for a template's constraint kind."""
    kind = template["spec"]["crd"]["spec"]["names"]["kind"]
    parameters = (template["spec"]["crd"]["spec"].get("validation") or {}).get("openAPIV3Schema") or {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True}
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "enforcementAction": {"type": "string"},
        "match": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "parameters": parameters}}}}
    return {"apiVersion": CRD_API, "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{kind.lower()}.constraints.gatekeeper.sh"},
            "spec": {"group": "constraints.gatekeeper.sh", "scope": "Cluster",
                     "names": {"kind": kind, "plural": kind.lower(), "singular": kind.lower(),
                               "listKind": kind + "List"},
                     "versions": [{"name": "v1beta1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}]}}


def _wait_served(kube: Cluster, api_version: str, kind: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        kube.forget_resources()
        if (api_version, kind) in kube.resources():
            return
        assert time.monotonic() < deadline, f"{kind} never became served"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def installed(kube: Cluster) -> Iterator[tuple[list[dict], list[dict]]]:
    templates, constraints = gatekeeper.load(ROOT / "manifests" / "gatekeeper")
    crds = [d for d in yaml.safe_load_all(CRD.read_text()) if d] + [constraint_crd(t) for t in templates]
    for crd in crds:
        kube.apply_object(crd, field_manager="kubebook-test")
    try:
        _wait_served(kube, "templates.gatekeeper.sh/v1", "ConstraintTemplate")
        for template in templates:
            _wait_served(kube, "constraints.gatekeeper.sh/v1beta1", template["spec"]["crd"]["spec"]["names"]["kind"])
        yield templates, constraints
    finally:
        for crd in crds:
            kube.delete_object(CRD_API, "CustomResourceDefinition", crd["metadata"]["name"])
        kube.forget_resources()


def test_templates_and_constraints_are_valid_for_gatekeepers_schemas(installed: tuple, kube: Cluster) -> None:
    templates, constraints = installed
    for obj in templates + constraints:
        kube.create_object(obj, dry_run=True)  # raises ApiError with the schema violation otherwise


def test_the_schemas_refuse_a_malformed_template_and_constraint(installed: tuple, kube: Cluster) -> None:
    templates, constraints = installed
    bad_template = copy.deepcopy(templates[0])
    bad_template["spec"]["targets"] = [{"target": "admission.k8s.gatekeeper.sh", "rego": ["not", "a", "string"]}]
    with pytest.raises(ApiError) as caught:
        kube.create_object(bad_template, dry_run=True)
    assert caught.value.status == 422 and "rego" in caught.value.message
    bad_constraint = copy.deepcopy(next(c for c in constraints if c["kind"] == "KubebookAllowedRegistries"))
    bad_constraint["spec"]["parameters"]["registries"] = "registry.k8s.io"  # a string where a list belongs
    with pytest.raises(ApiError) as caught:
        kube.create_object(bad_constraint, dry_run=True)
    assert caught.value.status == 422 and "registries" in caught.value.message
