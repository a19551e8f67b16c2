"""Checks are data: YAML records under ``audit/checks/<section>.yaml``, validated here.

Each file is a list of records ``{id, title, section, cis, severity, scored,
inspects, remediation, references, pss_level?}`` so a reviewer can read the
policy without reading code. Id conventions: Pod Security checks keep the
upstream PodSecurity admission check id verbatim (``privileged``,
``runAsNonRoot``, ...); every other check uses ``<section>.<kebab-name>``
(``rbac.wildcard-verbs``). Ids are unique across all files; ``cis`` uses the CIS
Kubernetes Benchmark v1.12 numbering, or null where no CIS item applies.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from kubebook.audit import yamlload
from kubebook.audit.model import PSS_LEVELS, SEVERITIES, Check
from kubebook.audit.schemacheck import problems as schema_problems
from kubebook.errors import AuditError

CHECKS_DIR = Path(__file__).resolve().parent / "checks"  # package data beside this module

RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "title", "section", "cis", "severity", "scored", "inspects", "remediation", "references"],
    "properties": {
        "id": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_.-]*$"},
        "title": {"type": "string", "minLength": 1},
        "section": {"type": "string", "pattern": r"^[a-z][a-z0-9-]*$"},
        "cis": {"type": ["string", "null"], "pattern": r"^[0-9]+(\.[0-9]+)*(, ?[0-9]+(\.[0-9]+)*)*$"},
        "severity": {"enum": list(SEVERITIES)},
        "scored": {"type": "boolean"},
        "inspects": {"type": "string", "minLength": 1},
        "remediation": {"type": "string", "minLength": 1},
        "references": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "pss_level": {"enum": [*PSS_LEVELS, None]},
    },
}
FILE_SCHEMA: dict[str, Any] = {"type": "array", "items": RECORD_SCHEMA}


def load_catalog(directory: str | Path | None = None) -> dict[str, Check]:
    """All checks from ``directory`` (default: the packaged catalog), keyed by id.

    Raises AuditError naming the file and record when a record breaks the schema,
    the section does not match its file name, or an id is used twice.
    """
    if directory is None:
        return dict(_packaged())
    return _load(Path(directory))


@functools.cache
def _packaged() -> dict[str, Check]:
    return _load(CHECKS_DIR)


def _load(directory: Path) -> dict[str, Check]:
    checks: dict[str, Check] = {}
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise AuditError(f"no check files (*.yaml) in {directory}")
    for path in files:
        try:
            records = yamlload.load(path.read_text(encoding="utf-8")) or []  # PyYAML semantics, parsed by ryaml
        except yamlload.YAMLError as error:
            raise AuditError(f"check file {path} is not valid YAML: {error}") from error
        problems = schema_problems(FILE_SCHEMA, records)
        if problems:
            raise AuditError(f"check file {path} breaks the check schema: " + "; ".join(problems[:5]))
        for record in records:
            if record["section"] != path.stem:
                raise AuditError(f"check {record['id']} in {path} has section {record['section']!r}; "
                                 f"records in {path.name} must use section {path.stem!r}")
            if record["id"] in checks:
                raise AuditError(f"check id {record['id']!r} is defined twice (second time in {path})")
            checks[record["id"]] = Check(
                id=record["id"], title=record["title"], section=record["section"], cis=record["cis"],
                severity=record["severity"], scored=record["scored"], inspects=record["inspects"].strip(),
                remediation=record["remediation"].strip(), references=tuple(record["references"]),
                pss_level=record.get("pss_level"))
    return checks


def get(check_id: str) -> Check:
    """The packaged check ``check_id``; an unknown id is an AuditError (a bug in the calling engine)."""
    try:
        return _packaged()[check_id]
    except KeyError:
        raise AuditError(f"unknown check id {check_id!r}",
                         hint=f"add it to a file under {CHECKS_DIR}") from None
