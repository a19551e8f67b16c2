"""Every pod a lab creates, applies as its solution or sends as a verifier's dry run meets the prod baseline.

Why: ``kubebook provision apply --overlay prod`` (what ``make run`` does) binds five admission policies
(manifests/base/admission-policies.yaml) to every namespace but the system ones, so a lab object without
the ``team``/``app`` labels or resource limits is refused at setup, and a verifier's test pod refused by
the baseline can never be judged by the policy the lab is about. The baseline is never loosened for the
labs; the labs' objects follow it. The cluster proof is tests/cluster/test_labs_prod_baseline.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubebook.audit import yamlload
from kubebook.labs import model

ROOT = Path(__file__).resolve().parents[3]
LABS = list(model.catalog().values())
POD_KINDS = {"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}
ALLOWED = [e.strip() for e in yamlload.load((ROOT / "manifests/base/policy-config.yaml").read_text())
           ["data"]["allowed-registries"].split(",") if e.strip()]


def pod_objects(lab: model.Lab) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, object) for every pod-bearing object of a lab: setup, solutions, verifier objects."""
    for obj in lab.setup:
        yield "setup", obj
    for step in lab.steps:
        for action in step.solution:
            for obj in action.get("apply") or []:
                yield f"{step.id} solution", obj
        for spec in step.verify:
            if isinstance(spec.get("object"), dict):
                yield f"{step.id} verify {spec['probe']}", spec["object"]


def pod_template(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if obj["kind"] == "Pod":
        return obj.get("metadata") or {}, obj.get("spec") or {}
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return spec["template"].get("metadata") or {}, spec["template"].get("spec") or {}


def baseline_problems(obj: dict[str, Any]) -> list[str]:
    """What the baseline's policies would refuse in ``obj`` (labels, resources, registries, tags, host access)."""
    meta, spec = pod_template(obj)
    labels = meta.get("labels") or {}
    problems = [f"label {k} missing" for k in ("team", "app") if not labels.get(k)]
    for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            given = res.get(part) or {}
            problems += [f"{c['name']}: {part}.{r} missing" for r in ("cpu", "memory") if r not in given]
        image = c["image"]
        if not any(image.startswith(e + "/") for e in ALLOWED):
            problems.append(f"{c['name']}: {image} is not from {ALLOWED}")
        if "@" not in image and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")):
            problems.append(f"{c['name']}: {image} is not pinned")
        if (c.get("securityContext") or {}).get("privileged"):
            problems.append(f"{c['name']}: privileged")
    if any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")) or \
            any("hostPath" in v for v in spec.get("volumes") or []):
        problems.append("host access")
    return problems


def test_the_allow_list_is_read_from_the_shipped_baseline() -> None:
    assert "registry.k8s.io" in ALLOWED and len(ALLOWED) >= 2


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_pod_of_a_lab_meets_the_prod_baseline(lab: model.Lab) -> None:
    found = [f"{where}: {obj['kind']} {obj['metadata'].get('name')}: {p}"
             for where, obj in pod_objects(lab) if obj["kind"] in POD_KINDS for p in baseline_problems(obj)]
    assert found == [], "the prod baseline would refuse these (add team/app labels and requests and limits)"


def test_a_test_pod_another_policy_refuses_first_is_an_inconclusive_verdict_not_the_steps_advice() -> None:
    """Lab 8 on the baseline: "a pod ... is admitted ... refused, but not by ..." contradicted itself."""
    from kubebook.errors import ApiError
    from kubebook.labs import engine
    from kubebook.labs.probes import Context

    class Refusing:
        def create_object(self, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
            raise ApiError(f"pods \"{obj['metadata']['name']}\" is forbidden: ValidatingAdmissionPolicy "
                           "'kubebook-allowed-registries' with binding 'kubebook-allowed-registries' denied request: "
                           "image x is not from an allow-listed registry", status=403, reason="Forbidden")

    lab = model.get("vap-image-provenance")
    verdict = engine.verify_step(Context(Refusing(), lab, Path("/nonexistent")), lab.steps[0])  # type: ignore[arg-type]
    assert not verdict.passed
    assert verdict.reason.startswith("could not judge this step - Pod miner in lab-vap was refused by "
                                     "ValidatingAdmissionPolicy 'kubebook-allowed-registries' before "
                                     "ValidatingAdmissionPolicy 'lab-vap-image-provenance' could judge it"), \
        verdict.reason
    assert "is admitted" not in verdict.reason and "but not by" not in verdict.reason
