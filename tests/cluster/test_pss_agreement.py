"""kubebook's Pod Security verdicts agree with the real API server's PodSecurity admission.

A generated corpus of pods varies every field the standards read: each field
alone with allowed and forbidden values, then seeded random combinations. Each
pod is created with a server-side dry run in a namespace that enforces the level
and version under test; the API server's answer (allowed, or the
``violates PodSecurity "level:version": ...`` message) must equal kubebook's,
string for string, and the failing check ids parsed from the server's message
must equal kubebook's. Besides ``latest``, two pinned versions exercise the
version gating (checks that start at v1.23, v1.25, v1.34 and v1.35).
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from kubebook.audit import pss

Pod = dict[str, Any]
Mutator = Callable[[Pod], None]
PREFIX = "violates PodSecurity "


def _base() -> Pod:
    """A pod that the restricted level allows: the starting point every variation changes."""
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {}},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10", "securityContext": {
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
        },
    }


def _c(pod: Pod, index: int = 0) -> dict[str, Any]:
    return pod["spec"]["containers"][index]


def _csc(pod: Pod, index: int = 0) -> dict[str, Any]:
    return _c(pod, index).setdefault("securityContext", {})


def _psc(pod: Pod) -> dict[str, Any]:
    return pod["spec"].setdefault("securityContext", {})


def _set(path: str, value: Any) -> Mutator:
    """Set (or, with value None, remove) a dotted field; 'c.' = first container, 'psc.' = pod securityContext."""
    def mutate(pod: Pod) -> None:
        head, _, rest = path.partition(".")
        target = {"c": lambda: _c(pod), "csc": lambda: _csc(pod), "psc": lambda: _psc(pod),
                  "spec": lambda: pod["spec"]}[head]()
        keys = rest.split(".")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        if value is None:
            target.pop(keys[-1], None)
        else:
            target[keys[-1]] = copy.deepcopy(value)
    return mutate


def _annotate(key: str, value: str) -> Mutator:
    return lambda pod: pod["metadata"]["annotations"].__setitem__(key, value)


def _add_container(kind: str, sc: dict[str, Any] | None = None) -> Mutator:
    def mutate(pod: Pod) -> None:
        name = f"{kind[:4].lower()}-{len(pod['spec'].get(kind, []))}"
        container: dict[str, Any] = {"name": name, "image": "registry.k8s.io/pause:3.10"}
        if sc is not None:
            container["securityContext"] = copy.deepcopy(sc)
        pod["spec"].setdefault(kind, []).append(container)
    return mutate


def _volume(source: str, value: dict[str, Any]) -> Mutator:
    return lambda pod: pod["spec"].setdefault("volumes", []).append({"name": f"v-{source.lower()}", source: value})


def _probe(kind: str, handler: str, host: str) -> Mutator:
    def mutate(pod: Pod) -> None:
        action = {"port": 8080, "host": host} | ({"path": "/"} if handler == "httpGet" else {})
        if kind in ("postStart", "preStop"):
            _c(pod).setdefault("lifecycle", {})[kind] = {handler: action}
        else:
            _c(pod)[kind] = {handler: action}
    return mutate


def _normalize(pod: Pod) -> None:
    """Keep a combination valid where the API's validation ties fields together.

    privileged=true forbids allowPrivilegeEscalation=false; a deprecated seccomp/AppArmor
    annotation must match the field it mirrors; hostNetwork forbids net.* sysctls and hostIPC
    kernel.* ones; procMount=Unmasked needs hostUsers=false (so it only appears with it).
    """
    spec, annotations = pod["spec"], pod["metadata"]["annotations"]
    for c in spec.get("initContainers", []) + spec["containers"]:
        sc = c.get("securityContext") or {}
        if sc.get("privileged") and sc.get("allowPrivilegeEscalation") is False:
            del sc["allowPrivilegeEscalation"]
        key = "container.apparmor.security.beta.kubernetes.io/" + c["name"]
        if key in annotations and sc.get("appArmorProfile"):
            annotations[key] = _annotation_value(sc["appArmorProfile"])
    key = "seccomp.security.alpha.kubernetes.io/pod"
    profile = (spec.get("securityContext") or {}).get("seccompProfile")
    if key in annotations and profile:
        annotations[key] = _annotation_value(profile)
    for host_namespace, prefix in (("hostNetwork", "net."), ("hostIPC", "kernel.")):
        if spec.get(host_namespace) and (spec.get("securityContext") or {}).get("sysctls"):
            spec["securityContext"]["sysctls"] = [s for s in spec["securityContext"]["sysctls"]
                                                  if not s["name"].startswith(prefix)]


def _annotation_value(profile: dict[str, Any]) -> str:
    if profile["type"] == "Localhost":
        return "localhost/" + profile["localhostProfile"]
    return {"RuntimeDefault": "runtime/default", "Unconfined": "unconfined"}[profile["type"]]


def _windows(pod: Pod) -> None:
    """A Windows pod: Linux-only security fields are not allowed with spec.os.name=windows."""
    pod["spec"]["os"] = {"name": "windows"}
    pod["spec"]["securityContext"] = {"runAsNonRoot": True}
    for c in pod["spec"]["containers"]:
        c.pop("securityContext", None)


def _host_process(pod: Pod) -> None:
    _windows(pod)
    pod["spec"]["hostNetwork"] = True
    pod["spec"]["securityContext"]["windowsOptions"] = {"hostProcess": True, "runAsUserName": "NT AUTHORITY\\SYSTEM"}


SINGLE: dict[str, Mutator] = {
    "hostNetwork": _set("spec.hostNetwork", True), "hostNetwork-false": _set("spec.hostNetwork", False),
    "hostPID": _set("spec.hostPID", True), "hostIPC": _set("spec.hostIPC", True),
    "hostIPC-false": _set("spec.hostIPC", False),
    "privileged": _set("csc.privileged", True), "privileged-false": _set("csc.privileged", False),
    "init-privileged": _add_container("initContainers", {"privileged": True}),
    "init-plain": _add_container("initContainers"),
    "second-container-plain": _add_container("containers", {}),
    "cap-add-NET_RAW": _set("csc.capabilities.add", ["NET_RAW"]),
    "cap-add-SYS_ADMIN+CHOWN": _set("csc.capabilities.add", ["SYS_ADMIN", "CHOWN"]),
    "cap-add-CHOWN": _set("csc.capabilities.add", ["CHOWN"]),
    "cap-add-NET_BIND_SERVICE": _set("csc.capabilities.add", ["NET_BIND_SERVICE"]),
    "cap-drop-none": _set("csc.capabilities.drop", None),
    "cap-drop-lowercase-all": _set("csc.capabilities.drop", ["all"]),
    "cap-drop-NET_RAW": _set("csc.capabilities.drop", ["NET_RAW"]), "caps-unset": _set("csc.capabilities", None),
    "ape-true": _set("csc.allowPrivilegeEscalation", True), "ape-unset": _set("csc.allowPrivilegeEscalation", None),
    "csc-unset": _set("c.securityContext", None),
    "pod-runAsNonRoot-false": _set("psc.runAsNonRoot", False), "pod-runAsNonRoot-unset": _set("psc.runAsNonRoot", None),
    "c-runAsNonRoot-false": _set("csc.runAsNonRoot", False), "c-runAsNonRoot-true": _set("csc.runAsNonRoot", True),
    "pod-runAsUser-0": _set("psc.runAsUser", 0), "pod-runAsUser-1000": _set("psc.runAsUser", 1000),
    "c-runAsUser-0": _set("csc.runAsUser", 0), "c-runAsUser-1000": _set("csc.runAsUser", 1000),
    "pod-seccomp-unset": _set("psc.seccompProfile", None),
    "pod-seccomp-Unconfined": _set("psc.seccompProfile", {"type": "Unconfined"}),
    "pod-seccomp-Localhost": _set("psc.seccompProfile", {"type": "Localhost", "localhostProfile": "p.json"}),
    "c-seccomp-Unconfined": _set("csc.seccompProfile", {"type": "Unconfined"}),
    "c-seccomp-RuntimeDefault": _set("csc.seccompProfile", {"type": "RuntimeDefault"}),
    "pod-apparmor-Unconfined": _set("psc.appArmorProfile", {"type": "Unconfined"}),
    "pod-apparmor-RuntimeDefault": _set("psc.appArmorProfile", {"type": "RuntimeDefault"}),
    "c-apparmor-Unconfined": _set("csc.appArmorProfile", {"type": "Unconfined"}),
    "c-apparmor-Localhost": _set("csc.appArmorProfile", {"type": "Localhost", "localhostProfile": "k8s-x"}),
    "annotation-apparmor-unconfined": _annotate("container.apparmor.security.beta.kubernetes.io/app", "unconfined"),
    "annotation-apparmor-runtime": _annotate("container.apparmor.security.beta.kubernetes.io/app", "runtime/default"),
    "annotation-apparmor-localhost": _annotate("container.apparmor.security.beta.kubernetes.io/app", "localhost/x"),
    "annotation-seccomp-pod-unconfined": _annotate("seccomp.security.alpha.kubernetes.io/pod", "unconfined"),
    "pod-selinux-container_t": _set("psc.seLinuxOptions", {"type": "container_t"}),
    "pod-selinux-spc_t": _set("psc.seLinuxOptions", {"type": "spc_t"}),
    "c-selinux-engine_t": _set("csc.seLinuxOptions", {"type": "container_engine_t"}),
    "c-selinux-user": _set("csc.seLinuxOptions", {"user": "system_u"}),
    "c-selinux-role+type": _set("csc.seLinuxOptions", {"role": "object_r", "type": "unconfined_t"}),
    "c-selinux-level": _set("csc.seLinuxOptions", {"level": "s0:c1,c2"}),
    "procMount-Default": _set("csc.procMount", "Default"),
    "procMount-Unmasked+hostUsers-false": lambda p: (_set("csc.procMount", "Unmasked")(p),
                                                      _set("spec.hostUsers", False)(p)),
    "hostUsers-false": _set("spec.hostUsers", False), "hostUsers-true": _set("spec.hostUsers", True),
    "hostUsers-false+root": lambda p: (_set("spec.hostUsers", False)(p), _set("psc.runAsNonRoot", None)(p),
                                       _set("psc.runAsUser", 0)(p)),
    "init-apparmor-Unconfined+init-runAsUser-0": _add_container(
        "initContainers", {"appArmorProfile": {"type": "Unconfined"}, "runAsUser": 0}),
    "two-init-two-containers-bad": lambda p: [_add_container(k, {"privileged": True, "capabilities": {"add": [c]}})(p)
                                              for k in ("initContainers", "containers") for c in ("NET_ADMIN", "BPF")],
    "sysctl-safe": _set("psc.sysctls", [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]),
    "sysctl-1.27": _set("psc.sysctls", [{"name": "net.ipv4.ip_local_reserved_ports", "value": "1000"}]),
    "sysctl-1.29": _set("psc.sysctls", [{"name": "net.ipv4.tcp_keepalive_time", "value": "100"}]),
    "sysctl-1.32": _set("psc.sysctls", [{"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"}]),
    "sysctl-1.37": _set("psc.sysctls", [{"name": "net.ipv4.tcp_notsent_lowat", "value": "16384"}]),
    "sysctl-unsafe": _set("psc.sysctls", [{"name": "kernel.msgmax", "value": "65536"},
                                          {"name": "net.core.somaxconn", "value": "1024"}]),
    "vol-hostPath": _volume("hostPath", {"path": "/etc"}), "vol-emptyDir": _volume("emptyDir", {}),
    "vol-configMap": _volume("configMap", {"name": "cm"}), "vol-secret": _volume("secret", {"secretName": "s"}),
    "vol-nfs": _volume("nfs", {"server": "nfs.example", "path": "/x"}),
    "vol-pvc": _volume("persistentVolumeClaim", {"claimName": "c"}),
    "vol-csi": _volume("csi", {"driver": "csi.example.com"}),
    "vol-downwardAPI": _volume("downwardAPI", {"items": []}),
    "vol-projected": _volume("projected", {"sources": []}),
    "vol-iscsi": _volume("iscsi", {"targetPortal": "10.0.0.1:3260", "iqn": "iqn.2001-04.com.example:s", "lun": 0}),
    "vol-image": _volume("image", {"reference": "registry.k8s.io/pause:3.10", "pullPolicy": "IfNotPresent"}),
    # no source at all: the API server defaults it to emptyDir before admission (SetDefaults_Volume)
    "vol-sourceless": lambda pod: pod["spec"].setdefault("volumes", []).append({"name": "v-none"}),
    "vol-sourceless-null": lambda pod: pod["spec"].setdefault("volumes", []).append({"name": "v-null", "nfs": None}),
    "hostPort-8080": _set("c.ports", [{"containerPort": 8080, "hostPort": 8080}]),
    "hostPort-0": _set("c.ports", [{"containerPort": 8080, "hostPort": 0}]),
    "hostNetwork+containerPort": lambda p: (_set("spec.hostNetwork", True)(p),
                                            _set("c.ports", [{"containerPort": 9090}])(p)),
    "liveness-httpGet-host": _probe("livenessProbe", "httpGet", "10.1.2.3"),
    "readiness-tcp-host": _probe("readinessProbe", "tcpSocket", "example.com"),
    "startup-httpGet-nohost": _probe("startupProbe", "httpGet", ""),
    "postStart-httpGet-host": _probe("postStart", "httpGet", "10.9.9.9"),
    "preStop-tcp-host": _probe("preStop", "tcpSocket", "10.9.9.8"),
    "windows": _windows, "windows-hostProcess": _host_process,
}
# Mutators that keep a pod valid in any combination (Windows and hostUsers combos need special shapes).
COMBINABLE = [k for k in SINGLE if not k.startswith(("windows", "procMount-Unmasked", "hostUsers"))]
LEVELS = [("restricted", "latest"), ("baseline", "latest"), ("restricted", "v1.24"), ("restricted", "v1.33")]


def corpus(seed: int = 20260523, combinations: int = 240) -> list[tuple[str, Pod]]:
    """(label, pod) pairs: the base pod, each mutator alone, and seeded random combinations of 2-6 mutators."""
    rng = random.Random(seed)
    items = [("base", [])] + [(name, [name]) for name in SINGLE]
    for _ in range(combinations):
        items.append(("+".join(picked := rng.sample(COMBINABLE, rng.randint(2, 6))), picked))
    pods = []
    for index, (label, names) in enumerate(items):
        pod = _base()
        pod["metadata"]["name"] = f"pss-{index:04d}"
        for name in names:
            SINGLE[name](pod)
        _normalize(pod)
        pods.append((label, pod))
    return pods


def _server_verdict(kube: Any, namespace: str, pod: Pod) -> str:
    """'' when admitted, else the text after 'violates PodSecurity '; other refusals fail the test."""
    try:
        kube.core.create_namespaced_pod(namespace, pod, dry_run="All")
        return ""
    except ApiException as error:
        message = json.loads(error.body).get("message", "")
        if error.status == 403 and PREFIX in message:
            return message.split(PREFIX, 1)[1]
        pytest.fail(f"the corpus pod {pod['metadata']['name']} was refused for another reason "
                    f"({error.status}): {message}\n{json.dumps(pod)}")


def _label(kube: Any, namespace: str, level: str, version: str) -> None:
    """Label the namespace, then wait until admission judges by the new label.

    PodSecurity admission reads namespaces from an informer cache, so for a moment
    after the patch it still applies the old level; a privileged probe pod (dry run)
    tells when the new one is in force.
    """
    kube.core.patch_namespace(namespace, {"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": version}}})
    probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "label-probe"},
             "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}}
    expected = f'"{level}:{version}"'
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            kube.core.create_namespaced_pod(namespace, probe, dry_run="All")
            if level == "privileged":
                return
        except ApiException as error:
            if error.status == 403 and expected in json.loads(error.body)["message"]:
                return
        time.sleep(0.1)
    pytest.fail(f"namespace {namespace} was not enforced at {level}:{version} within 20 s")


def test_corpus_covers_every_check_failing_and_passing() -> None:
    verdicts = {lbl: {c for c, _, _ in pss.evaluate_pod(pod, "restricted")} for lbl, pod in corpus()}
    failing = set().union(*verdicts.values())
    restricted_ids = {c for c, _, _ in pss.checks_for("restricted")}
    assert restricted_ids <= failing, f"no corpus pod fails {restricted_ids - failing}"
    assert len(verdicts) >= 300 and sum(1 for v in verdicts.values() if not v) >= 10


def test_kubebook_agrees_with_pod_security_admission(kube: Any, namespace: str) -> None:
    pods = corpus()
    disagreements: list[str] = []
    compared = denied = 0
    for level, version in LEVELS:
        _label(kube, namespace, level, version)
        with ThreadPoolExecutor(max_workers=4) as pool:
            server = list(pool.map(lambda item: _server_verdict(kube, namespace, item[1]), pods))
        for (label, pod), answer in zip(pods, server, strict=True):
            ours = pss.evaluate_pod(pod, level, version)
            expected = f'"{level}:{version}": {pss.forbidden_message(ours)}' if ours else ""
            compared += 1
            denied += bool(answer)
            if answer != expected:
                disagreements.append(f"{level}:{version} {pod['metadata']['name']} [{label}]\n"
                                     f"  server:   {answer or 'allowed'}\n  kubebook: {expected or 'allowed'}")
                continue
            if answer:
                parsed = pss.checks_from_message(answer.split(": ", 1)[1], level, version)
                assert parsed == [c for c, _, _ in ours], (label, parsed, ours)
    assert not disagreements, f"{len(disagreements)} of {compared} verdicts differ:\n" + "\n".join(disagreements[:20])
    assert 0 < denied < compared  # the corpus exercises both outcomes at every level


def test_pod_templates_get_the_same_warnings_as_pods(kube: Any, namespace: str) -> None:
    """Deployments and CronJobs are only warned about; the warning names the same violations."""
    _label(kube, namespace, "restricted", "latest")
    kube.core.patch_namespace(namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/warn": "restricted"}}})
    for label, pod in corpus(seed=7, combinations=12)[::9]:
        template = {"metadata": {"labels": {"app": "x"}, "annotations": pod["metadata"]["annotations"]},
                    "spec": pod["spec"]}
        deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": pod["metadata"]["name"]},
                      "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": template}}
        _, _, headers = kube.apps.create_namespaced_deployment_with_http_info(namespace, deployment, dry_run="All")
        warnings = [w for w in headers.getlist("Warning") if "PodSecurity" in w] if hasattr(headers, "getlist") \
            else [w for k, w in headers.items() if k.lower() == "warning" and "PodSecurity" in w]
        meta, spec = pss.pod_template("Deployment", deployment)
        ours = pss.evaluate_pod_spec(meta, spec, "restricted")
        if not ours:
            assert not warnings, (label, warnings)
            continue
        expected = f'would violate PodSecurity "restricted:latest": {pss.forbidden_message(ours)}'
        assert any(expected.replace('"', '\\"') in w or expected in w for w in warnings), (label, warnings, expected)


EPHEMERAL: dict[str, dict[str, Any]] = {
    "debug-privileged": {"privileged": True},
    "debug-plain": {},
    "debug-compliant": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    "debug-root-unconfined": {"runAsUser": 0, "seccompProfile": {"type": "Unconfined"},
                              "allowPrivilegeEscalation": False,
                              "capabilities": {"drop": ["ALL"], "add": ["SYS_PTRACE"]}},
}


def test_ephemeral_containers_are_judged_like_containers(kube: Any, namespace: str) -> None:
    """Adding a debug container (the ephemeralcontainers subresource) gets the same verdict as kubebook's."""
    _label(kube, namespace, "restricted", "latest")
    pod = _base()
    pod["metadata"]["name"] = "target"
    kube.core.create_namespaced_pod(namespace, pod)
    answers = {}
    for name, sc in EPHEMERAL.items():
        for _attempt in range(10):  # KWOK and the scheduler update the pod meanwhile: 409 means read again
            live = kube.api_client.sanitize_for_serialization(kube.core.read_namespaced_pod("target", namespace))
            live["spec"]["ephemeralContainers"] = [{"name": name, "image": "busybox", "securityContext": sc}]
            try:
                kube.core.replace_namespaced_pod_ephemeralcontainers("target", namespace, live, dry_run="All")
                answer = ""
            except ApiException as error:
                if error.status == 409:
                    continue
                assert error.status == 403, error.body
                answer = json.loads(error.body)["message"].split(PREFIX, 1)[1]
            break
        else:
            pytest.fail("the pod kept changing: 10 conflicts in a row")
        ours = pss.evaluate_pod_spec(live["metadata"], live["spec"], "restricted")
        assert answer == (f'"restricted:latest": {pss.forbidden_message(ours)}' if ours else ""), name
        answers[name] = answer
    assert [name for name, answer in answers.items() if not answer] == ["debug-compliant"]


def test_live_cluster_audit_agrees_with_admission(kube: Any, namespace: str) -> None:
    """Pods stored in the cluster (defaulted by the server) get the failing checks admission names.

    The pods are created for real in a namespace that enforces nothing; the
    audit then lists the cluster, and for each pod its FAILed Pod Security checks
    must be exactly the union of what admission reports at baseline and at
    restricted for the same pod (dry-run under another name).
    """
    from kubebook.audit import AuditInventory, run_audit

    pods = corpus(seed=11, combinations=30)[::4]
    _label(kube, namespace, "privileged", "latest")
    for _, pod in pods:
        kube.core.create_namespaced_pod(namespace, pod)
    expected: dict[str, set[str]] = {pod["metadata"]["name"]: set() for _, pod in pods}
    for level in ("baseline", "restricted"):
        _label(kube, namespace, level, "latest")
        for _, pod in pods:
            probe = copy.deepcopy(pod)
            probe["metadata"]["name"] += "-probe"
            answer = _server_verdict(kube, namespace, probe)
            if answer:
                expected[pod["metadata"]["name"]] |= set(pss.checks_from_message(answer.split(": ", 1)[1], level))
    result = run_audit(AuditInventory.from_cluster(kube))
    df = result.findings
    ours = df[(df["namespace"] == namespace) & (df["kind"] == "Pod") & (df["section"] == "pss")]
    assert set(ours["name"]) == set(expected)
    actual = {name: set(group[group["result"] == "FAIL"]["check"]) for name, group in ours.groupby("name")}
    assert actual == expected
    assert any(expected.values()) and not all(expected.values())
    assert set(ours["result"]) <= {"PASS", "FAIL"}
