"""The pods that prove the admission policies: one compliant pod and one violation per policy.

Each violation is the compliant pod with exactly one thing broken, so the only rule
that can refuse it is the one under test. The compliant pod meets Pod Security
``restricted``, because Pod Security admission runs before the policies and would
otherwise answer first. Host isolation is proved with a Deployment: Pod Security
refuses a hostNetwork *pod* before any policy sees it, but only warns on workload
templates, so the Deployment reaches the policy (which is the point of matching
pod-template kinds: a bad Deployment is refused on apply, not silently later).

The same cases drive the verification against a live API server and the Rego
evaluation of the Gatekeeper alternative, so both overlays are held to one standard.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

IMAGE = "registry.k8s.io/pause:3.10"


class Case(NamedTuple):
    """A request and who should refuse it (``policy`` None: it must be admitted)."""

    name: str
    policy: str | None
    obj: dict[str, Any]


def compliant_pod(namespace: str, name: str = "kubebook-verify") -> dict[str, Any]:
    """A pod every kubebook admission control admits (restricted, labelled, sized, pinned)."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": "platform", "app": "verify"}},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "main", "image": IMAGE,
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "50m", "memory": "32Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
            }],
        },
    }


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    return pod["spec"]["containers"][0]


def _deployment(pod: dict[str, Any]) -> dict[str, Any]:
    meta = pod["metadata"]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": dict(meta["labels"])},
            "spec": {"replicas": 1, "selector": {"matchLabels": dict(meta["labels"])},
                     "template": {"metadata": {"labels": dict(meta["labels"])}, "spec": pod["spec"]}}}


def admission_cases(namespace: str) -> list[Case]:
    """The compliant pod and one violation per kubebook admission policy, in ``namespace``."""
    def broken(name: str, change: Any) -> dict[str, Any]:
        pod = copy.deepcopy(compliant_pod(namespace, f"kubebook-verify-{name}"))
        change(pod)
        return pod

    def host_network(pod: dict[str, Any]) -> None:
        pod["spec"]["hostNetwork"] = True

    return [
        Case("compliant pod", None, compliant_pod(namespace)),
        Case("image from a registry outside the allow-list", "kubebook-allowed-registries",
             broken("registry", lambda p: _container(p).update(image="docker.io/library/nginx:1.27.3"))),
        Case("image tagged :latest", "kubebook-image-tags",
             broken("latest", lambda p: _container(p).update(image="registry.k8s.io/pause:latest"))),
        Case("image without a tag", "kubebook-image-tags",
             broken("untagged", lambda p: _container(p).update(image="registry.k8s.io/pause"))),
        Case("pod without the team label", "kubebook-required-labels",
             broken("labels", lambda p: p["metadata"]["labels"].pop("team"))),
        Case("container without limits", "kubebook-resources",
             broken("resources", lambda p: _container(p)["resources"].pop("limits"))),
        Case("Deployment with hostNetwork", "kubebook-host-isolation",
             _deployment(broken("hostnetwork", host_network))),
        Case("compliant Deployment", None, _deployment(compliant_pod(namespace, "kubebook-verify-deployment"))),
    ]


def over_quota_pod(namespace: str, cpu: str = "64") -> dict[str, Any]:
    """A compliant pod asking for more CPU than any namespace quota of the baseline allows."""
    pod = compliant_pod(namespace, "kubebook-verify-quota")
    _container(pod)["resources"] = {"requests": {"cpu": cpu, "memory": "16Mi"},
                                    "limits": {"cpu": cpu, "memory": "32Mi"}}
    return pod
