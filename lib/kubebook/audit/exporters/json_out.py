"""JSON export: one object with ``findings`` and ``score`` (the CLI's --format json)."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _quote  # json's own C string encoder
from typing import Any

from kubebook import __version__
from kubebook.audit.engine import AuditResult
from kubebook.audit.exporters.common import counts, nullable, shown


def finding_records(result: AuditResult, include_passed: bool) -> list[dict[str, Any]]:
    records = []
    for row in shown(result, include_passed):
        records.append({
            "check": row["check"], "title": row["title"], "severity": row["severity"], "cis": nullable(row["cis"]),
            "pss_level": nullable(row["pss_level"]), "section": row["section"], "result": row["result"],
            "resource": {"kind": row["kind"], "namespace": nullable(row["namespace"]), "name": row["name"]},
            "message": row["message"], "remediation": row["remediation"],
            "waived": bool(row["waived"]), "waiver": nullable(row["waiver"]),
        })
    return records


def document(result: AuditResult, include_passed: bool) -> dict[str, Any]:
    return {**_head(result), "findings": finding_records(result, include_passed)}


def _head(result: AuditResult) -> dict[str, Any]:
    """Every key of the document before ``findings``, in order."""
    return {
        "tool": {"name": "kubebook", "version": __version__},
        "source": result.source, "location": result.location, "generated_at": result.generated_at,
        "score": result.score,
        "counts": counts(result),
        "expired_waivers": [w.describe() for w in result.expired_waivers],
    }


def to_json(result: AuditResult, include_passed: bool = False) -> str:
    """One compact JSON object, the same text ``json.dumps(document(...), separators=(",", ":"))`` gives.

    The findings are written as text from per-check pieces encoded once (a check's
    title, CIS id and remediation repeat in every one of its findings) instead of
    one dict per finding for the encoder: measured ~2x faster on 5,000 findings.
    """
    text = json.dumps(_head(result), separators=(",", ":"))
    return text[:-1] + ',"findings":[' + ",".join(_finding_texts(result, include_passed)) + "]}\n"


def _finding_texts(result: AuditResult, include_passed: bool) -> list[str]:
    pieces: dict[str, tuple[str, str]] = {}
    out = []
    for check, resource, outcome, message, waiver in result.rows.sorted_rows(include_passed=include_passed):
        piece = pieces.get(check.id)
        if piece is None:
            piece = pieces[check.id] = (
                json.dumps({"check": check.id, "title": check.title, "severity": check.severity,
                            "cis": nullable(check.cis), "pss_level": nullable(check.pss_level),
                            "section": check.section}, separators=(",", ":"))[:-1],
                _quote(check.remediation))
        namespace = "null" if resource.namespace is None else _quote(resource.namespace)
        out.append(f'{piece[0]},"result":{_quote(outcome)},"resource":{{"kind":{_quote(resource.kind)},'
                   f'"namespace":{namespace},"name":{_quote(resource.name)}}},"message":{_quote(message)},'
                   f'"remediation":{piece[1]},"waived":{"false" if waiver is None else "true"},'
                   f'"waiver":{"null" if waiver is None else _quote(waiver)}}}')
    return out
