"""The check catalog is data validated by a schema; mistakes in it are reported with file and record."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubebook.audit import catalog, pss
from kubebook.errors import AuditError

RECORD = """- id: demo.one
  title: A demo check
  section: demo
  cis: "1.2.3"
  severity: high
  scored: true
  inspects: something
  remediation: fix it
  references: []
"""


def test_packaged_catalog_loads_and_covers_every_upstream_pss_check() -> None:
    checks = catalog.load_catalog()
    upstream = {check_id for check_id, _, _ in pss.CHECKS}
    assert upstream <= set(checks)
    for check_id, level, _ in pss.CHECKS:
        assert checks[check_id].pss_level == level and checks[check_id].section == "pss"
    assert catalog.get("privileged").cis == "5.2.2"


def test_unknown_id_is_an_error() -> None:
    with pytest.raises(AuditError, match="unknown check id 'nope'"):
        catalog.get("nope")


def test_valid_directory_loads(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(RECORD)
    check = catalog.load_catalog(tmp_path)["demo.one"]
    assert (check.severity, check.scored, check.references, check.pss_level) == ("high", True, (), None)


@pytest.mark.parametrize(("text", "message"), [
    (RECORD.replace("severity: high", "severity: urgent"), "breaks the check schema: 0/severity"),
    (RECORD.replace("  scored: true\n", ""), "'scored' is a required property"),
    (RECORD.replace('cis: "1.2.3"', "cis: five"), "0/cis"),
    (RECORD.replace("references: []", "references: []\n  extra: 1"), "Additional properties"),
    (RECORD.replace("section: demo", "section: other"), "must use section 'demo'"),
    (RECORD + RECORD.replace("- id", "- id", 1), "defined twice"),
    ("- id: [", "not valid YAML"),
])
def test_invalid_records_are_reported(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "demo.yaml").write_text(text)
    with pytest.raises(AuditError, match=message.replace("(", r"\(").replace("[", r"\[")) as info:
        catalog.load_catalog(tmp_path)
    assert "demo.yaml" in str(info.value)


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no check files"):
        catalog.load_catalog(tmp_path)


# CIS Kubernetes Benchmark v1.12 section 5.2/5.6 items and the Pod Security checks that implement them.
CIS_1_12 = {"5.2.2": "privileged", "5.2.3": "hostNamespaces", "5.2.4": "hostNamespaces", "5.2.5": "hostNamespaces",
            "5.2.6": "allowPrivilegeEscalation", "5.2.7": "runAsNonRoot", "5.2.8": "capabilities_restricted",
            "5.2.9": "capabilities_restricted", "5.2.10": "windowsHostProcess", "5.2.11": "hostPathVolumes",
            "5.2.12": "hostPorts", "5.6.2": "seccompProfile_restricted"}


def test_pod_security_checks_carry_cis_v1_12_numbers() -> None:
    checks = catalog.load_catalog()
    pss_ids = {c.id: {n.strip() for n in (c.cis or "").split(",") if n.strip()} for c in checks.values()
               if c.section == "pss"}
    for number, check_id in CIS_1_12.items():
        assert number in pss_ids[check_id], f"{check_id} should carry CIS v1.12 {number}"
    numbers = {n for ids in pss_ids.values() for n in ids}
    assert numbers <= set(CIS_1_12) | {"5.2.1"}, f"not CIS v1.12 section 5.2/5.6 ids: {numbers - set(CIS_1_12)}"


def test_packaged_check_and_rule_files_stay_on_the_fast_yaml_path() -> None:
    """Every audit loads the catalog: a file that sends itself to PyYAML (a stray ' = ', 'yes', a date ...)
    costs each manifest audit PyYAML's import (~0.1 s, measured) for nothing."""
    from pathlib import Path

    from kubebook.audit import yamlload

    root = Path(catalog.CHECKS_DIR).parent
    slow = [str(p.relative_to(root)) for p in sorted(root.glob("*/*.yaml")) if yamlload.needs_pyyaml(p.read_text())]
    assert not slow, f"these files go to PyYAML; rephrase what the scan flags: {slow}"
