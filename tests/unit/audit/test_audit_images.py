"""Images and general-policy engine: image reference parsing, the registry allow-list, per-container rules."""

from __future__ import annotations

import pytest
from audit_helpers import findings, missing_fixtures, of

from kubebook.audit import images


def deploy(*containers, kind="Deployment", ns="app", **pod):
    spec = {"containers": list(containers), **pod}
    body = {"template": {"spec": spec}}
    if kind == "CronJob":
        body = {"jobTemplate": {"spec": body}}
    return {"kind": kind, "metadata": {"name": "w", "namespace": ns}, "spec": body}


def test_every_images_check_has_pass_and_fail_fixtures() -> None:
    assert missing_fixtures("images", {}) == []


@pytest.mark.parametrize(("image", "expected"), [
    ("nginx", ("docker.io", "library/nginx", None, None)),
    ("bitnami/redis:7", ("docker.io", "bitnami/redis", "7", None)),
    ("localhost:5000/app", ("localhost:5000", "app", None, None)),
    ("ghcr.io/acme/api:1.2@sha256:abc", ("ghcr.io", "acme/api", "1.2", "sha256:abc")),
    ("registry.k8s.io/pause:3.10", ("registry.k8s.io", "pause", "3.10", None)),
])
def test_parse_image_resolves_like_the_runtime(image, expected) -> None:
    assert images.parse_image(image) == expected


def test_allow_list_entries_are_registries_or_path_prefixes() -> None:
    assert images.registry_allowed("ghcr.io/acme/api:1", ["ghcr.io/acme"])
    assert not images.registry_allowed("ghcr.io/evil/api:1", ["ghcr.io/acme"])
    assert not images.registry_allowed("ghcr.io.evil.com/acme/api:1", ["ghcr.io"])
    assert images.registry_allowed("nginx:1", ["docker.io"])


def test_allow_list_precedence_parameter_then_environment_then_configmap(monkeypatch) -> None:
    config = {"kind": "ConfigMap", "metadata": {"name": "kubebook-audit", "namespace": "kube-system"},
              "data": {"allowed-registries": "quay.io"}}
    workload = deploy({"name": "c", "image": "quay.io/x/y:1"})
    monkeypatch.delenv(images.REGISTRY_ENV, raising=False)
    assert of(findings(images, [config, workload]), "images.registry-allowlist")[0][0] == "PASS"
    monkeypatch.setenv(images.REGISTRY_ENV, "ghcr.io")
    assert of(findings(images, [config, workload]), "images.registry-allowlist")[0][0] == "FAIL"
    found = findings(images, [config, workload], allowed_registries=["quay.io/x"])
    assert of(found, "images.registry-allowlist")[0][0] == "PASS"


def test_without_an_allow_list_the_registries_in_use_are_info(monkeypatch) -> None:
    monkeypatch.delenv(images.REGISTRY_ENV, raising=False)
    found = of(findings(images, [deploy({"name": "c", "image": "nginx:1"})]), "images.registry-allowlist")
    assert [(r, m.split("in use: ")[1]) for r, _, m in found] == [("INFO", "docker.io")]


def test_init_container_latest_tag_is_found_and_digest_counts_as_fixed() -> None:
    workload = deploy({"name": "app", "image": "x@sha256:" + "0" * 64},
                      initContainers=[{"name": "init", "image": "busybox:latest"}])
    result, _, message = of(findings(images, [workload]), "images.latest-tag")[0]
    assert result == "FAIL" and "init=busybox:latest" in message and "app=" not in message


def test_pod_level_seccomp_covers_containers_and_unconfined_does_not() -> None:
    ok = deploy({"name": "c", "image": "x:1"}, securityContext={"seccompProfile": {"type": "RuntimeDefault"}})
    assert of(findings(images, [ok]), "images.seccomp")[0][0] == "PASS"
    override = deploy({"name": "c", "image": "x:1", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
                      securityContext={"seccompProfile": {"type": "RuntimeDefault"}})
    assert of(findings(images, [override]), "images.seccomp")[0][0] == "FAIL"


def test_jobs_are_not_asked_for_probes_and_limits_alone_count_as_requests() -> None:
    job = deploy({"name": "c", "image": "x:1", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, kind="CronJob")
    found = findings(images, [job])
    assert of(found, "images.probes") == []
    assert of(found, "images.resources")[0][0] == "PASS"


def test_manifest_without_namespace_is_a_warning() -> None:
    workload = deploy({"name": "c", "image": "x:1"})
    del workload["metadata"]["namespace"]
    assert of(findings(images, [workload]), "images.default-namespace")[0][0] == "WARN"
