"""Worker-node checks: settings resolved as the kubelet resolves them, every check with fixtures."""

from __future__ import annotations

from pathlib import Path

from kubebook.audit import AuditInventory, catalog, node, run_audit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "audit"


def test_every_node_check_has_pass_and_fail_fixtures() -> None:
    checks = [c.id for c in catalog.load_catalog().values() if c.section == "node"]
    missing = [f"{c}/{kind}" for c in checks for kind in ("pass", "fail")
               if not (FIXTURES / c / f"{kind}.yaml").is_file()]
    assert len(checks) == 23 and not missing
    assert set(checks) == set(node.rules()["kubelet_checks"]) | set(node.rules()["file_checks"])


def test_a_flag_beats_the_config_file_and_defaults_depend_on_which_is_in_use() -> None:
    setting = node.rules()["settings"]["anonymous-auth"]
    config = {"authentication": {"anonymous": {"enabled": False}}}
    assert node.effective(setting, {"--anonymous-auth": "true"}, config)[0] == "true"
    assert node.effective(setting, {}, config)[0] == "false"
    assert node.effective(setting, {}, {})[0] == "false"  # v1beta1 file default
    assert node.effective(setting, {}, None)[0] == "true"  # command-line default: anonymous allowed


def test_kubelet_without_config_file_fails_the_permissive_defaults(tmp_path: Path) -> None:
    (tmp_path / "node.yaml").write_text(
        "apiVersion: kubebook.io/v1\nkind: NodeCollection\nmetadata: {name: bare}\n"
        "kubelet: {argv: [/usr/bin/kubelet], config: null}\nfile_sets: {}\nfiles: {}\n")
    frame = run_audit(AuditInventory.from_manifests(tmp_path)).findings
    verdicts = dict(zip(frame["check"], frame["result"], strict=True))
    assert verdicts["node.kubelet-anonymous-auth"] == "FAIL"
    assert verdicts["node.kubelet-authorization-mode"] == "FAIL"
    assert verdicts["node.kubelet-read-only-port"] == "FAIL"
    assert verdicts["node.kubelet-config-mode"] == "WARN"  # no file: not checked, never a pass
