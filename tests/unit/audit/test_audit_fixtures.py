"""Every check has a passing and a failing fixture, walked by one generic test (Polaris style).

Layout: ``tests/fixtures/audit/<check-id>/pass*.yaml`` and ``fail*.yaml``, each a set
of manifests read with ``AuditInventory.from_manifests``. A pass fixture must
produce at least one finding for its check and every one PASS; a fail fixture
at least one FAIL (or ERROR for the source checks). Add a directory to cover a
new check; nothing else changes here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubebook.audit import AuditInventory, catalog, run_audit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "audit"
# Checks that cannot be expressed as a manifest fixture, with the test that covers them instead.
NOT_MANIFEST_CHECKS = {
    "source.engine-failed": "needs a crashing engine: tests/unit/audit/test_audit_engine.py",
}
FAILING = {"FAIL", "ERROR"}


def _cases() -> list[tuple[str, Path]]:
    return [(path.parent.name, path) for path in sorted(FIXTURES.glob("*/*.yaml"))]


@pytest.mark.parametrize(("check_id", "fixture"), _cases(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_fixture_gives_expected_verdict(check_id: str, fixture: Path) -> None:
    result = run_audit(AuditInventory.from_manifests(fixture))
    rows = result.findings[result.findings["check"] == check_id]
    assert len(rows), f"{fixture} produced no finding for {check_id}"
    if fixture.name.startswith("pass"):
        assert set(rows["result"]) == {"PASS"}, rows[["kind", "name", "result", "message"]].to_string()
    else:
        assert fixture.name.startswith("fail"), f"fixture names start with pass or fail: {fixture}"
        assert set(rows["result"]) & FAILING, rows[["kind", "name", "result", "message"]].to_string()


def test_fixture_directories_name_known_checks() -> None:
    known = set(catalog.load_catalog())
    unknown = sorted({check for check, _ in _cases()} - known)
    assert not unknown, f"fixture directories for unknown check ids: {unknown}"


@pytest.mark.parametrize("section", ["pss", "source", "rbac", "exposure", "workloads"])
def test_every_check_of_section_has_pass_and_fail_fixtures(section: str) -> None:
    checks = [c.id for c in catalog.load_catalog().values() if c.section == section]
    missing = [f"{check_id}/{kind}" for check_id in checks if check_id not in NOT_MANIFEST_CHECKS
               for kind in ("pass", "fail") if not list((FIXTURES / check_id).glob(f"{kind}*.yaml"))]
    assert checks and not missing, f"checks without fixtures: {missing}"
