"""The lab model: a lab is a small data file (``catalog/<id>.yaml``), never code.

Why data: a lab's story, steps, hints, starting objects, verifiers and reference solution
are reviewed like course material, and one generic test walks every lab (the starting state
fails every step, the solution passes every step), as Polaris walks its check fixtures.
Verifiers name probes (``probes.PROBES``) with arguments; the Python behind them is shared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

import fastjsonschema

from kubebook import yamlload
from kubebook.errors import ParameterError

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}$")
ACTIONS = ("apply", "delete", "set_flags", "call")

_OBJECT = {"type": "object", "required": ["apiVersion", "kind", "metadata"]}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "order", "title", "domain", "minutes", "story", "goal", "namespaces", "steps"],
    "properties": {
        "id": {"type": "string", "pattern": ID_PATTERN.pattern},
        "order": {"type": "integer", "minimum": 1},
        "title": {"type": "string", "minLength": 3},
        "domain": {"type": "string"},
        "minutes": {"type": "integer", "minimum": 1},
        "prerequisites": {"type": "array", "items": {"type": "string"}},
        "story": {"type": "string"},
        "goal": {"type": "string"},
        "namespaces": {"type": "array", "items": {"type": "string", "pattern": "^lab-[a-z0-9-]+$"}},
        "cluster_objects": {"type": "array", "items": {
            "type": "object", "required": ["apiVersion", "kind", "name"], "additionalProperties": False,
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                           "name": {"type": "string", "pattern": "^lab-"}}}},
        "needs_local_cluster": {"type": "boolean"},
        "setup": {"type": "array", "items": _OBJECT},
        "setup_hooks": {"type": "array", "items": {"type": "string"}},
        "workspace_files": {"type": "object", "additionalProperties": {"type": "string"}},
        "steps": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False,
            "required": ["id", "title", "task", "hints", "verify", "solution"],
            "properties": {
                "id": {"type": "string", "pattern": ID_PATTERN.pattern},
                "title": {"type": "string"},
                "task": {"type": "string"},
                "hints": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                "verify": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["probe"], "properties": {"probe": {"type": "string"}}}},
                "solution": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "minProperties": 2, "maxProperties": 2, "required": ["explain"],
                    "properties": {"explain": {"type": "string"}, "apply": {"type": "array", "items": _OBJECT},
                                   "delete": {"type": "array", "items": {"type": "object"}},
                                   "set_flags": {"type": "object"}, "call": {"type": "object"}}}},
            }}},
    },
}
_validate = fastjsonschema.compile(SCHEMA)


@dataclass(frozen=True)
class Step:
    """One graded task: what to do, the hints in the order they are revealed, how it is verified."""

    id: str
    title: str
    task: str
    hints: tuple[str, ...]
    verify: tuple[dict[str, Any], ...]
    solution: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Lab:
    """A lab as its catalog file describes it."""

    id: str
    order: int
    title: str
    domain: str
    minutes: int
    story: str
    goal: str
    namespaces: tuple[str, ...]
    steps: tuple[Step, ...]
    prerequisites: tuple[str, ...] = ()
    cluster_objects: tuple[dict[str, str], ...] = ()
    setup: tuple[dict[str, Any], ...] = ()
    setup_hooks: tuple[str, ...] = ()
    workspace_files: dict[str, str] = field(default_factory=dict)
    needs_local_cluster: bool = False

    @property
    def notebook(self) -> str:
        """Path of the trainee's notebook, relative to the repository root."""
        return f"labs/{self.order:02d}-{self.id}.ipynb"

    @property
    def solution(self) -> str:
        """Path of the reference-solution notebook, relative to the repository root."""
        return f"labs/solutions/{self.order:02d}-{self.id}.ipynb"

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise ParameterError(f"lab {self.id} has no step {step_id!r}",
                             hint="steps: " + ", ".join(s.id for s in self.steps))


class StepResult(NamedTuple):
    """The verdict of one step: passed or not, and a reason the trainee can act on."""

    id: str
    passed: bool
    reason: str


class LabResult(NamedTuple):
    """Every step's verdict for one lab (the ``lab check --json`` contract)."""

    lab: str
    steps: list[StepResult]

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(s.passed for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {"lab": self.lab, "steps": [s._asdict() for s in self.steps]}


def parse(doc: Any, origin: str = "<lab>") -> Lab:
    """A Lab from its catalog document; every schema problem is a ParameterError naming the file."""
    try:
        _validate(doc)
    except fastjsonschema.JsonSchemaException as error:
        raise ParameterError(f"lab file {origin} is invalid: {error.message}") from error
    steps = tuple(Step(s["id"], s["title"], s["task"].strip(), tuple(s["hints"]), tuple(s["verify"]),
                       tuple(s["solution"])) for s in doc["steps"])
    if len({s.id for s in steps}) != len(steps):
        raise ParameterError(f"lab file {origin} repeats a step id")
    return Lab(id=doc["id"], order=doc["order"], title=doc["title"], domain=doc["domain"], minutes=doc["minutes"],
               story=doc["story"].strip(), goal=doc["goal"].strip(), namespaces=tuple(doc["namespaces"]),
               steps=steps, prerequisites=tuple(doc.get("prerequisites") or ()),
               cluster_objects=tuple(doc.get("cluster_objects") or ()), setup=tuple(doc.get("setup") or ()),
               setup_hooks=tuple(doc.get("setup_hooks") or ()), workspace_files=dict(doc.get("workspace_files") or {}),
               needs_local_cluster=bool(doc.get("needs_local_cluster")))


def _read(entry: Any) -> Any:
    """One catalogue file through the bounded loader (size, UTF-8, aliases, depth): a one-line error."""
    what = f"lab catalog file {entry.name}"
    with entry.open("rb") as handle:
        data = handle.read(yamlload.MAX_FILE_BYTES + 1)
    return yamlload.parse(yamlload.decode(data, what), what)


@cache
def catalog() -> dict[str, Lab]:
    """Every shipped lab by id, in catalogue order."""
    folder = resources.files("kubebook.labs") / "catalog"
    labs = [parse(_read(entry), entry.name) for entry in folder.iterdir() if entry.name.endswith(".yaml")]
    labs.sort(key=lambda lab: lab.order)
    return {lab.id: lab for lab in labs}


def get(lab_id: str) -> Lab:
    """The lab ``lab_id``, or a one-line error listing the ids that exist."""
    labs = catalog()
    if lab_id not in labs:
        raise ParameterError(f"no lab {lab_id!r}", hint="labs: " + ", ".join(labs))
    return labs[lab_id]
