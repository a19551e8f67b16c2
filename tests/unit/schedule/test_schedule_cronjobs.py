"""CronJob rendering: least-privilege RBAC per risk class, restricted pods, `kubebook run`, stable files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from kubebook.errors import ParameterError
from kubebook.schedule import cronjobs
from kubebook.schedule.model import Schedule

READ_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
READ_NODES = {"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["list", "watch"]}
WRITE_DEPLOYMENTS = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch", "get"]}


def notebook(root: Path, name: str, risk: str, rbac: list[dict[str, Any]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kubebook"] = {"title": name, "description": "d", "category": "c", "risk": risk,
                               "parameters": {"type": "object", "properties": {}}, "rbac": rbac}
    path = root / "runbooks" / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def rendered(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    schedules = [
        Schedule(name="audit", notebook=notebook(tmp_path, "audit", "readonly", [READ_PODS]), cron="@daily",
                 parameters={"namespace": "default", "limit": 5}, timeout=600, retries=2),
        Schedule(name="inventory", notebook=notebook(tmp_path, "inventory", "readonly", [READ_NODES]),
                 cron="*/30 * * * *", enabled=False),
        Schedule(name="rollout", notebook=notebook(tmp_path, "rollout", "mutating", [WRITE_DEPLOYMENTS]),
                 cron="0 4 * * 1", cell_timeout=60.5),
    ]
    texts = cronjobs.render(schedules, root=tmp_path, image="registry.local/kubebook:1")
    return {name: [d for d in yaml.safe_load_all(text) if d] for name, text in texts.items()}


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind)


def test_every_file_is_listed_in_the_kustomization_and_carries_the_generated_header(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    kustomization = rendered["kustomization.yaml"][0]
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(n for n in rendered if n != "kustomization.yaml")
    assert set(rendered) >= {"namespace.yaml", "pvc.yaml", "rbac-readonly.yaml", "rbac-mutating.yaml",
                             "cronjob-audit.yaml", "cronjob-inventory.yaml", "cronjob-rollout.yaml"}


def test_each_risk_class_gets_exactly_the_union_of_its_notebooks_rules(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    readonly = by_kind(rendered["rbac-readonly.yaml"], "ClusterRole")["rules"]
    assert readonly == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    ]
    mutating = by_kind(rendered["rbac-mutating.yaml"], "ClusterRole")["rules"]
    assert mutating == [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}]
    binding = by_kind(rendered["rbac-readonly.yaml"], "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "kubebook-runner-readonly"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kubebook-runner-readonly",
                                    "namespace": "kubebook-runner"}]


def test_rules_with_resource_names_are_kept_as_written() -> None:
    named = {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cfg"], "verbs": ["get"]}
    assert cronjobs.union_rules([[named], [named, READ_PODS]]) == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}, named]


def test_pods_meet_pod_security_restricted_and_run_kubebook_run(rendered: dict[str, list[dict[str, Any]]]) -> None:
    cronjob = rendered["cronjob-audit.yaml"][0]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert cronjob["spec"]["schedule"] == "0 0 * * *"
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 2
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == "kubebook-runner-readonly"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["image"] == "registry.local/kubebook:1"
    assert container["command"] == ["kubebook", "run", "/opt/kubebook/runbooks/audit.ipynb", "--archive", "/reports",
                                    "-p", "limit", "5", "-p", "namespace", "default", "--timeout", "600"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts == {"reports": "/reports", "tmp": "/tmp"}
    assert volumes["reports"]["persistentVolumeClaim"]["claimName"] == "kubebook-reports"


def test_the_mutating_schedule_uses_the_mutating_account_and_a_disabled_one_is_suspended(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    rollout = rendered["cronjob-rollout.yaml"][0]
    pod = rollout["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kubebook-runner-mutating"
    assert pod["containers"][0]["command"][-2:] == ["--cell-timeout", "60.5"]
    assert rollout["spec"]["suspend"] is False
    assert rendered["cronjob-inventory.yaml"][0]["spec"]["suspend"] is True


def test_the_namespace_enforces_restricted_and_the_archive_pvc_is_shared(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    labels = rendered["namespace.yaml"][0]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert rendered["pvc.yaml"][0]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_a_notebook_outside_the_repository_is_refused(tmp_path: Path) -> None:
    outside = notebook(tmp_path / "elsewhere", "x", "readonly", [])
    with pytest.raises(ParameterError, match="outside"):
        cronjobs.render([Schedule(name="x", notebook=outside, cron="@daily")], root=tmp_path / "repo")


def test_writing_removes_generated_files_of_removed_schedules_and_check_finds_drift(tmp_path: Path) -> None:
    out = tmp_path / "out"
    keep = Schedule(name="keep", notebook=notebook(tmp_path, "keep", "readonly", []), cron="@hourly")
    gone = Schedule(name="gone", notebook=notebook(tmp_path, "gone", "readonly", []), cron="@hourly")
    cronjobs.write(out, cronjobs.render([keep, gone], root=tmp_path))
    (out / "handwritten.yaml").write_text("kind: ConfigMap\n")
    texts = cronjobs.render([keep], root=tmp_path)
    assert cronjobs.differences(out, texts) == [f"{out / 'cronjob-gone.yaml'} is left over from a removed schedule",
                                                f"{out / 'kustomization.yaml'} differs from schedules.yaml"]
    cronjobs.write(out, texts)
    assert not (out / "cronjob-gone.yaml").exists()
    assert (out / "handwritten.yaml").exists(), "files kubebook did not generate are left alone"
    assert cronjobs.differences(out, texts) == []


def test_the_committed_runner_manifests_match_the_shipped_schedules() -> None:
    from kubebook.schedule.model import load_schedules

    root = Path(__file__).resolve().parents[3]
    texts = cronjobs.render(load_schedules(root / "scheduled" / "schedules.yaml"), root=root)
    assert cronjobs.differences(root / "manifests" / "runner", texts) == [], \
        "run 'kubebook schedule render-cronjobs' and commit manifests/runner"
    assert all("&id" not in text for text in texts.values()), "no YAML anchors in rendered manifests"


def test_pod_templates_carry_the_team_and_app_labels_the_provisioned_baseline_requires(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    for name in ("cronjob-audit.yaml", "cronjob-inventory.yaml", "cronjob-rollout.yaml"):
        labels = rendered[name][0]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        assert labels["team"] and labels["app"] == "kubebook-runner"


def test_by_default_pods_go_anywhere_and_the_claim_waits_for_a_provisioner(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    pod = rendered["cronjob-audit.yaml"][0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert "tolerations" not in pod and "nodeSelector" not in pod
    assert "pv.yaml" not in rendered and "volumeName" not in rendered["pvc.yaml"][0]["spec"]
    assert "networkpolicy.yaml" not in rendered


def _render_for_the_real_node(tmp_path: Path, **options: Any) -> dict[str, list[dict[str, Any]]]:
    schedule = Schedule(name="audit", notebook=notebook(tmp_path, "audit", "readonly", [READ_PODS]), cron="@daily")
    texts = cronjobs.render([schedule], root=tmp_path, **options)
    return {name: [d for d in yaml.safe_load_all(text) if d] for name, text in texts.items()}


def test_real_node_adds_the_nodes_toleration_and_selector(tmp_path: Path) -> None:
    from kubebook.localcluster.node.runtime import NODE_LABEL, NODE_TAINT

    docs = _render_for_the_real_node(tmp_path, real_node=True)
    pod = docs["cronjob-audit.yaml"][0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["tolerations"] == [{"key": NODE_TAINT, "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["nodeSelector"] == {NODE_LABEL: "real"}
    (policy,) = docs["networkpolicy.yaml"]
    assert "networkpolicy.yaml" in docs["kustomization.yaml"][0]["resources"]
    labels = docs["cronjob-audit.yaml"][0]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["spec"]["policyTypes"] == ["Egress"]  # egress only to where the node's DNAT puts the API server
    assert policy["spec"]["egress"] == [{"to": [{"ipBlock": {"cidr": "127.0.0.1/32"}}], "ports": [{"protocol": "TCP"}]}]


def test_archive_host_path_binds_the_claim_to_a_static_host_path_volume(tmp_path: Path) -> None:
    docs = _render_for_the_real_node(tmp_path, real_node=True, archive_host_path="/var/lib/kubebook/reports/",
                                     storage="2Gi")
    order = docs["kustomization.yaml"][0]["resources"]
    assert order.index("pv.yaml") < order.index("pvc.yaml")
    (volume,) = docs["pv.yaml"]
    (claim,) = docs["pvc.yaml"]
    assert volume["spec"]["hostPath"] == {"path": "/var/lib/kubebook/reports", "type": "Directory"}
    assert volume["spec"]["claimRef"]["name"] == claim["metadata"]["name"] == "kubebook-reports"
    assert volume["spec"]["claimRef"]["namespace"] == claim["metadata"]["namespace"] == "kubebook-runner"
    assert claim["spec"]["volumeName"] == volume["metadata"]["name"]
    assert claim["spec"]["storageClassName"] == volume["spec"]["storageClassName"] == ""
    assert volume["spec"]["capacity"] == {"storage": "2Gi"}
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    term = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term == {"key": "kubebook.io/node-type", "operator": "In", "values": ["real"]}
    anywhere = _render_for_the_real_node(tmp_path, archive_host_path="/srv/reports")
    assert "nodeAffinity" not in anywhere["pv.yaml"][0]["spec"]  # without --real-node the volume is any node's


@pytest.mark.parametrize("path", ["reports", "./reports", "/var/lib/../reports", "/", "/srv//reports", "/srv/r\n"])
def test_a_relative_or_unclean_archive_host_path_is_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(ParameterError, match="must be an absolute, normalized folder"):
        _render_for_the_real_node(tmp_path, archive_host_path=path)


def test_archive_host_path_and_a_storage_class_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="exclude each other"):
        _render_for_the_real_node(tmp_path, archive_host_path="/srv/reports", storage_class="nfs")


def test_the_cli_refuses_a_relative_archive_host_path_in_one_line_with_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kubebook.cli import main

    out = tmp_path / "out"
    assert main(["schedule", "render-cronjobs", "--out", str(out), "--real-node", "--archive-host-path",
                 "reports"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("kubebook: --archive-host-path 'reports'")
    assert not out.exists(), "nothing is written"
