"""A kustomize build never reads outside the manifests tree and never fetches (issue: LoadRestrictionsNone).

Every refusal is one line naming the kustomization file and the rule, raised before kustomize runs
(the kubectl given is a path that does not exist: reaching it would be a FileNotFoundError, not a refusal).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kubebook.errors import ParameterError
from kubebook.provision import build, build_path
from kubebook.provision.confine import RULE, check

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "manifests"
NO_KUBECTL = "/nonexistent/kubectl"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the manifests tree with a secret file beside it (outside the tree)."""
    root = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, root, symlinks=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "file").write_text("password=hunter2\n")
    return root


def _overlay(root: Path, text: str, name: str = "bad") -> Path:
    folder = root / "overlays" / name
    folder.mkdir(exist_ok=True)
    (folder / "kustomization.yaml").write_text(text)
    return folder


def _refused(root: Path, name: str = "bad") -> str:
    with pytest.raises(ParameterError) as caught:
        build(name, root, kubectl=NO_KUBECTL)
    text = str(caught.value)
    assert "\n" not in text and RULE in text, text
    assert str(root / "overlays" / name / "kustomization.yaml") in text, text
    return text


def test_the_shipped_overlays_stay_inside_the_tree() -> None:
    for name in ("dev", "staging", "prod"):
        check(MANIFESTS / "overlays" / name, MANIFESTS)  # raises on the first escape


def test_a_generator_reading_an_absolute_file_is_refused_before_kustomize_runs(tree: Path) -> None:
    _overlay(tree, "configMapGenerator:\n- name: leak\n  files:\n  - /etc/shadow\n")
    assert "'/etc/shadow'" in _refused(tree)


def test_a_generator_reading_a_file_above_the_tree_is_refused(tree: Path) -> None:
    _overlay(tree, "configMapGenerator:\n- name: leak\n  files:\n  - secret=../../../outside/file\n")
    assert "'../../../outside/file', outside the tree" in _refused(tree)
    _overlay(tree, "secretGenerator:\n- name: leak\n  envs:\n  - ../../../outside/file\n")
    _refused(tree)


def test_a_symlink_inside_the_tree_pointing_outside_counts_as_outside(tree: Path) -> None:
    folder = _overlay(tree, "configMapGenerator:\n- name: leak\n  files:\n  - link.txt\n")
    (folder / "link.txt").symlink_to(tree.parent / "outside" / "file")
    assert "through a symlink" in _refused(tree)
    linked = tree / "overlays" / "linked"
    linked.symlink_to(tree.parent / "outside", target_is_directory=True)
    (tree.parent / "outside" / "kustomization.yaml").write_text("resources: []\n")
    _overlay(tree, "resources:\n- ../linked\n")
    assert "outside the tree" in _refused(tree)


@pytest.mark.parametrize("remote", ["https://example.com/cm.yaml", "github.com/kubernetes-sigs/kustomize//examples",
                                    "git@github.com:org/repo.git", "ssh://git@example.com/repo",
                                    "git::https://example.com/repo"])
def test_a_remote_base_or_file_is_refused_without_fetching(tree: Path, remote: str) -> None:
    _overlay(tree, f"resources:\n- ../../base\n- {remote}\n")
    assert "remote location" in _refused(tree)
    _overlay(tree, f"patches:\n- path: {remote}\n")
    _refused(tree)


def test_a_base_folder_outside_the_tree_is_refused(tree: Path) -> None:
    (tree.parent / "outside" / "kustomization.yaml").write_text("resources: []\n")
    _overlay(tree, "resources:\n- ../../../outside\n")
    _refused(tree)


def test_plugin_and_unknown_fields_are_refused(tree: Path) -> None:
    _overlay(tree, "generators:\n- gen.yaml\n")
    assert "generators runs generator plugins" in _refused(tree)
    _overlay(tree, "helmCharts:\n- name: x\n  repo: https://charts.example.com\n")
    _refused(tree)
    _overlay(tree, "resourcez:\n- x.yaml\n")
    assert "'resourcez'" in _refused(tree)


def test_a_nested_kustomization_is_walked_too(tree: Path) -> None:
    nested = tree / "overlays" / "bad" / "inner"
    nested.mkdir(parents=True)
    (nested / "kustomization.yaml").write_text("configMapGenerator:\n- name: x\n  files:\n  - /etc/passwd\n")
    _overlay(tree, "resources:\n- ../../base\n- inner\n")
    with pytest.raises(ParameterError) as caught:
        build("bad", tree, kubectl=NO_KUBECTL)
    assert str(nested / "kustomization.yaml") in str(caught.value)


def test_build_path_confines_a_folder_to_its_own_tree(tree: Path) -> None:
    folder = _overlay(tree, "configMapGenerator:\n- name: leak\n  files:\n  - /etc/shadow\n")
    with pytest.raises(ParameterError, match="confined to the manifests tree"):
        build_path(folder, kubectl=NO_KUBECTL)


def _kubectl() -> Path:
    from kubebook.errors import BuildError
    from kubebook.localcluster.build import binary

    try:
        return binary("kubectl")
    except BuildError:
        pytest.skip("kubectl is not built yet (make test builds it with 'kubebook cluster build')")


def test_a_file_inside_the_tree_still_builds_with_real_kustomize(tree: Path) -> None:
    kubectl = _kubectl()
    folder = _overlay(tree, "resources:\n- ../../base\nconfigMapGenerator:\n- name: settings\n  namespace: default\n"
                            "  files:\n  - ../../base/policy-config.yaml\n")
    built = build("bad", tree, kubectl=kubectl)
    assert [o for o in built.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("settings")]
    assert folder.is_dir()


def test_kustomize_itself_cannot_fetch(tree: Path) -> None:
    """The second wall: even called directly past the check, kustomize's fetches go to a closed port."""
    from kubebook.provision.build import LOAD_RESTRICTOR, NO_FETCH

    kubectl = _kubectl()
    folder = _overlay(tree, "resources:\n- https://raw.githubusercontent.com/kubernetes/website/main/x.yaml\n")
    import os

    proc = subprocess.run([str(kubectl), "kustomize", *LOAD_RESTRICTOR, str(folder)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **NO_FETCH}, check=False)
    assert proc.returncode != 0
    assert "127.0.0.1:9" in proc.stderr or "connection refused" in proc.stderr, proc.stderr[-500:]
