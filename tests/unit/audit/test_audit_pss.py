"""The Pod Security port: upstream check ids, order, version gating, message text and pod semantics.

Expected strings are taken from the upstream Go sources and tests
(k8s.io/pod-security-admission v0.37.2, policy/check_*_test.go); the live
comparison with the API server is tests/cluster/test_pss_agreement.py.
"""

from __future__ import annotations

import pytest

from kubebook.audit import pss
from kubebook.audit.pss_validate import SpecError
from kubebook.errors import ParameterError


def _spec(**fields):
    spec = {"containers": [{"name": "a"}]}
    spec.update(fields)
    return spec


def _ids(spec, level="baseline", version="latest", meta=None):
    return [c for c, _, _ in pss.evaluate_pod_spec(meta or {}, spec, level, version)]


def test_latest_check_sets_and_order_match_upstream():
    assert [c for c, _, _ in pss.checks_for("baseline")] == [
        "appArmorProfile", "capabilities_baseline", "hostNamespaces", "hostPathVolumes", "hostPorts",
        "hostProbesAndHostLifecycle", "privileged", "procMount", "seLinuxOptions", "seccompProfile_baseline",
        "sysctls", "windowsHostProcess"]
    # restricted = baseline minus the overridden checks, then the restricted checks (each group sorted)
    assert [c for c, _, _ in pss.checks_for("restricted")] == [
        "appArmorProfile", "hostNamespaces", "hostPorts", "hostProbesAndHostLifecycle", "privileged",
        "seLinuxOptions", "sysctls", "windowsHostProcess", "allowPrivilegeEscalation", "capabilities_restricted",
        "procMount_restricted", "restrictedVolumes", "runAsNonRoot", "runAsUser", "seccompProfile_restricted"]
    assert pss.checks_for("privileged") == ()


@pytest.mark.parametrize(("version", "present", "absent"), [
    ("v1.0", {"runAsNonRoot", "restrictedVolumes"},
     {"allowPrivilegeEscalation", "runAsUser", "seccompProfile_restricted"}),
    ("v1.8", {"allowPrivilegeEscalation"}, {"capabilities_restricted"}),
    ("v1.22", {"capabilities_restricted"}, {"runAsUser", "capabilities_baseline"}),
    ("v1.23", {"runAsUser", "seccompProfile_restricted"}, {"hostProbesAndHostLifecycle"}),
    ("v1.34", {"hostProbesAndHostLifecycle", "procMount"}, {"procMount_restricted"}),
    ("v1.35", {"procMount_restricted"}, {"procMount"}),
    ("v1.99", {"procMount_restricted"}, set()),
])
def test_version_gating(version, present, absent):
    ids = {c for c, _, _ in pss.checks_for("restricted", version)}
    assert present <= ids and not (absent & ids)


def test_versions_clamp_like_upstream_and_bad_versions_are_errors():
    assert pss.parse_version("latest") == pss.MAX_MINOR == 37
    assert pss.parse_version("v1.99") == 37
    for bad in ("1.25", "v2.0", "v1.05", ""):
        with pytest.raises(ParameterError):
            pss.parse_version(bad)
    with pytest.raises(ParameterError):
        pss.checks_for("strict")


def test_sysctl_allow_list_grows_with_the_version():
    spec = _spec(securityContext={"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat"}, {"name": "net.ipv4.tcp_rmem"}]})
    assert pss.evaluate_pod_spec({}, spec, "baseline", "v1.31") == [
        ("sysctls", "forbidden sysctls", "net.ipv4.tcp_notsent_lowat, net.ipv4.tcp_rmem")]
    assert _ids(spec, version="v1.32") == ["sysctls"]
    assert _ids(spec, version="v1.37") == []


def test_messages_pluralize_and_join_like_go():
    spec = {"initContainers": [{"name": "i", "ports": [{"hostPort": 80}, {"hostPort": 443}]}],
            "containers": [{"name": "a", "ports": [{"hostPort": 80}]}, {"name": "b", "ports": [{"containerPort": 1}]}]}
    assert pss.evaluate_pod_spec({}, spec, "baseline") == [
        ("hostPorts", "hostPort", 'containers "i", "a" use hostPorts 443, 80')]
    one = {"containers": [{"name": "a", "ports": [{"hostPort": 8080}]}]}
    assert pss.evaluate_pod_spec({}, one, "baseline")[0][2] == 'container "a" uses hostPort 8080'


def test_pod_and_container_level_semantics_for_run_as_non_root():
    ok = _spec(securityContext={"runAsNonRoot": True})
    assert "runAsNonRoot" not in _ids(ok, "restricted")
    explicit = {"securityContext": {"runAsNonRoot": False},
                "containers": [{"name": "a", "securityContext": {"runAsNonRoot": False}}, {"name": "b"}]}
    detail = dict((c, d) for c, _, d in pss.evaluate_pod_spec({}, explicit, "restricted"))["runAsNonRoot"]
    assert detail == 'pod and container "a" must not set securityContext.runAsNonRoot=false'
    implicit = {"containers": [{"name": "a"}], "ephemeralContainers": [{"name": "dbg"}]}
    detail = dict((c, d) for c, _, d in pss.evaluate_pod_spec({}, implicit, "restricted"))["runAsNonRoot"]
    assert detail == 'pod or containers "a", "dbg" must set securityContext.runAsNonRoot=true'


def test_user_namespaces_relax_root_checks_from_1_35_only():
    spec = {"hostUsers": False, "securityContext": {"runAsUser": 0},
            "containers": [{"name": "a", "securityContext": {"procMount": "Unmasked"}}]}
    assert not {"runAsNonRoot", "runAsUser", "procMount"} & set(_ids(spec, "restricted"))
    assert "procMount_restricted" in _ids(spec, "restricted")
    assert {"runAsNonRoot", "runAsUser", "procMount"} <= set(_ids(spec, "restricted", "v1.34"))


def test_windows_pods_skip_linux_only_restricted_checks_from_1_25():
    spec = {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True}, "containers": [{"name": "a"}]}
    assert _ids(spec, "restricted") == []
    assert set(_ids(spec, "restricted", "v1.24")) == {"allowPrivilegeEscalation", "capabilities_restricted",
                                                       "seccompProfile_restricted"}


def test_apparmor_fields_and_annotations():
    meta = {"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "unconfined",
                            "container.apparmor.security.beta.kubernetes.io/b": "localhost/x"}}
    spec = {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}, "containers": [{"name": "a"}]}
    assert pss.evaluate_pod_spec(meta, spec, "baseline") == [(
        "appArmorProfile", "forbidden AppArmor profiles",
        'pod and annotation must not set AppArmor profile type to "Unconfined", '
        '"container.apparmor.security.beta.kubernetes.io/a="unconfined""')]  # joinQuote does not escape


def test_prepare_pod_mirrors_server_defaulting_and_apparmor_sync():
    pod = {"metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "unconfined"}},
           "spec": {"hostNetwork": True, "containers": [{"name": "a", "ports": [{"containerPort": 9090}]}]}}
    prepared = pss.prepare_pod(pod)
    assert prepared["spec"]["containers"][0]["ports"][0]["hostPort"] == 9090
    assert prepared["spec"]["containers"][0]["securityContext"]["appArmorProfile"] == {"type": "Unconfined"}
    assert "securityContext" not in pod["spec"]["containers"][0]  # the input is not modified
    assert _ids(prepared["spec"], meta=prepared["metadata"]) == ["appArmorProfile", "hostNamespaces", "hostPorts"]


def test_seccomp_restricted_distinguishes_explicit_and_implicit():
    spec = {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "a", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
                           {"name": "b"}]}
    assert dict((c, d) for c, _, d in pss.evaluate_pod_spec({}, spec, "restricted"))["seccompProfile_restricted"] == \
        'container "a" must not set securityContext.seccompProfile.type to "Unconfined"'


def test_restricted_volumes_names_each_type_once():
    spec = _spec(volumes=[{"name": "h", "hostPath": {"path": "/"}}, {"name": "n", "nfs": {}},
                          {"name": "n2", "nfs": {}}, {"name": "ok", "emptyDir": {}}, {"name": "odd"}])
    detail = dict((c, d) for c, _, d in pss.evaluate_pod_spec({}, spec, "restricted"))["restrictedVolumes"]
    assert detail == 'volumes "h", "n", "n2", "odd" use restricted volume types "hostPath", "nfs", "unknown"'


def test_wrongly_typed_fields_raise_instead_of_passing():
    with pytest.raises(SpecError, match=r"spec.containers\[0\].securityContext.privileged must be a boolean"):
        pss.evaluate_pod_spec({}, {"containers": [{"name": "a", "securityContext": {"privileged": "true"}}]},
                              "baseline")
    with pytest.raises(SpecError, match="runAsUser must be an integer"):
        pss.evaluate_pod_spec({}, {"securityContext": {"runAsUser": False}, "containers": []}, "restricted")


def test_message_round_trip_through_the_parser():
    spec = {"hostNetwork": True, "containers": [{"name": "a(1)", "securityContext": {
        "privileged": True, "seccompProfile": {"type": "Unconfined"}}}]}
    failed = pss.evaluate_pod_spec({}, spec, "restricted")
    message = pss.forbidden_message(failed)
    assert pss.checks_from_message(message, "restricted") == [c for c, _, _ in failed]
    assert pss.checks_from_message("seccompProfile (x)", "baseline") == ["seccompProfile_baseline"]
    with pytest.raises(ValueError, match="unknown PodSecurity reason"):
        pss.checks_from_message("made up reason", "baseline")


def test_go_quote_matches_strconv_quote():
    from kubebook.audit.pss_checks import go_quote

    assert go_quote('un"con\\fined') == '"un\\"con\\\\fined"'
    assert go_quote("tab\there\x01é") == '"tab\\there\\x01é"'


def test_engine_verdicts_equal_per_pod_evaluation_despite_the_template_cache():
    """The engine judges each distinct template once; over the generated corpus (as Pods and as
    Deployments, with per-replica noise such as node names and token volumes) it must still give
    every object exactly the failing checks that evaluating it alone gives."""
    import importlib.util
    from pathlib import Path

    from kubebook.audit import AuditInventory

    path = Path(__file__).resolve().parents[2] / "cluster" / "test_pss_agreement.py"
    spec = importlib.util.spec_from_file_location("pss_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    objects, expected = [], {}
    for index, (_, pod) in enumerate(module.corpus()):
        for replica in range(2):
            p = {**pod, "metadata": {**pod["metadata"], "name": f"{pod['metadata']['name']}-{replica}"},
                 "spec": {**pod["spec"], "nodeName": f"n{replica}",
                          "volumes": [*pod["spec"].get("volumes", []),
                                      {"name": f"kube-api-access-{index}{replica}", "projected": {"sources": []}}]}}
            objects.append(p)
            failing = pss.evaluate_pod(p, "baseline") + pss.evaluate_pod(p, "restricted")
            expected[("Pod", p["metadata"]["name"])] = {(c, f"{r} ({d})" if d else r) for c, r, d in failing}
    findings = [f for item in pss.evaluate(AuditInventory.from_objects(objects))
                for f in (item if isinstance(item, pss.FindingBatch) else [item])]
    actual: dict[tuple[str, str], set[tuple[str, str]]] = {key: set() for key in expected}
    for f in findings:
        if f.resource.kind == "Pod" and f.result == "FAIL":
            actual[("Pod", f.resource.name)].add((f.check.id, f.message))
    assert actual == expected


def test_volume_without_a_source_is_defaulted_to_empty_dir_like_the_api_server():
    """SetDefaults_Volume turns a volume with no source into emptyDir before admission runs, so the
    restricted level allows it (the raw check port still names it "unknown", as upstream's would)."""
    pod = {"metadata": {"name": "p"}, "spec": {"securityContext": {"runAsNonRoot": True, "seccompProfile": {
        "type": "RuntimeDefault"}}, "containers": [{"name": "a", "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
        "volumes": [{"name": "v"}, {"name": "w", "hostPath": None}]}}
    assert pss.evaluate_pod(pod, "restricted") == []
    assert pod["spec"]["volumes"] == [{"name": "v"}, {"name": "w", "hostPath": None}]  # input untouched
    assert [c for c, _, _ in pss.evaluate_pod_spec({}, pod["spec"], "restricted")] == ["restrictedVolumes"]
    deployment = {"kind": "Deployment", "metadata": {"name": "d", "namespace": "app"},
                  "spec": {"template": {"metadata": {}, "spec": pod["spec"]}}}
    _, spec = pss.pod_template("Deployment", deployment)
    assert pss.evaluate_pod_spec({}, spec, "restricted") == []
    from kubebook.audit import AuditInventory

    verdicts = {(f.check.id, f.result) for item in pss.evaluate(AuditInventory.from_objects([deployment, pod]))
                for f in (item if isinstance(item, pss.FindingBatch) else [item]) if f.check.id == "restrictedVolumes"}
    assert verdicts == {("restrictedVolumes", "PASS")}
