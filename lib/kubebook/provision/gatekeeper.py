"""The Gatekeeper alternative (``manifests/gatekeeper/``), held to the same pod cases as the admission policies.

Gatekeeper cannot run here (no webhook can reach a pod), so its two halves are checked
with the real parts that can: the ConstraintTemplates against Gatekeeper's own CRD
schema (by the API server, in the tests), and their Rego with the OPA Go module
(``kubebook-rego``, a small wrapper built on first use from ``gomod/opa``, pinned by
go.sum). :func:`evaluate` answers, per case, which constraints deny it, in the input
shape Gatekeeper gives a template (``review`` + the constraint's ``parameters``).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebook import yamlload
from kubebook.errors import BuildError
from kubebook.localcluster.build import Recipe, build_recipe
from kubebook.provision.cases import Case

GOMOD = Path(__file__).resolve().parent / "gomod"
TEMPLATE_KIND = "ConstraintTemplate"


@dataclass(frozen=True)
class _RegoRecipe(Recipe):
    """The wrapper lives beside this engine rather than with the cluster's recipes."""

    @property
    def module_dir(self) -> Path:
        return GOMOD / self.name


REGO = _RegoRecipe("opa", "github.com/open-policy-agent/opa", {"kubebook-rego": "."}, own_code=True)


def rego_binary(progress: Any = None) -> Path:
    """Path of ``kubebook-rego``, built (and cached by a hash of its sources) when missing."""
    if not REGO.is_cached():
        build_recipe(REGO, progress or (lambda _message: None))
    path = REGO.path("kubebook-rego")
    if not path.is_file():
        raise BuildError(f"kubebook-rego was not built ({path} missing)")
    return path


def load(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(templates, constraints) from the YAML files of ``folder``."""
    docs = [d for f in sorted(folder.glob("*.yaml")) if f.name != "kustomization.yaml"
            for d in yamlload.load_all_file(f, f"policy file {f.name}") if d]
    templates = [d for d in docs if d.get("kind") == TEMPLATE_KIND]
    constraints = [d for d in docs if d.get("apiVersion", "").startswith("constraints.gatekeeper.sh/")]
    return templates, constraints


def _review(obj: dict[str, Any]) -> dict[str, Any]:
    group, _, version = obj["apiVersion"].rpartition("/")
    return {"kind": {"group": group, "version": version, "kind": obj["kind"]}, "operation": "CREATE",
            "name": obj["metadata"]["name"], "namespace": obj["metadata"].get("namespace", ""), "object": obj}


def _matches(constraint: dict[str, Any], obj: dict[str, Any]) -> bool:
    match = constraint.get("spec", {}).get("match", {})
    group = obj["apiVersion"].rpartition("/")[0]
    kinds = match.get("kinds") or [{"apiGroups": ["*"], "kinds": ["*"]}]
    kind_ok = any((group in k.get("apiGroups", []) or "*" in k.get("apiGroups", [])) and
                  (obj["kind"] in k.get("kinds", []) or "*" in k.get("kinds", [])) for k in kinds)
    return kind_ok and obj["metadata"].get("namespace") not in (match.get("excludedNamespaces") or [])


def evaluate(templates: list[dict[str, Any]], constraints: list[dict[str, Any]], cases: list[Case],
             binary: Path | None = None) -> dict[str, dict[str, list[str]]]:
    """Per case name: constraint name -> the violation messages its template's Rego returns."""
    by_kind = {t["spec"]["crd"]["spec"]["names"]["kind"]: t for t in templates}
    requests, slots = [], []
    for constraint in constraints:
        template = by_kind[constraint["kind"]]
        target = template["spec"]["targets"][0]
        package = target["rego"].split("package", 1)[1].split()[0]
        inputs = [{"review": _review(c.obj), "parameters": constraint.get("spec", {}).get("parameters") or {}}
                  for c in cases]
        requests.append({"package": package, "module": target["rego"], "inputs": inputs})
        slots.append(constraint)
    proc = subprocess.run([str(binary or rego_binary())], input=json.dumps(requests), capture_output=True,
                          text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise BuildError(f"Rego evaluation failed: {proc.stderr.strip()}")
    answers = json.loads(proc.stdout)
    out: dict[str, dict[str, list[str]]] = {c.name: {} for c in cases}
    for constraint, per_input in zip(slots, answers, strict=True):
        for case, messages in zip(cases, per_input, strict=True):
            if messages and _matches(constraint, case.obj):
                out[case.name][constraint["metadata"]["name"]] = messages
    return out
