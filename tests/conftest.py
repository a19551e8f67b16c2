"""Session fixtures: the real local control plane, started once and shared.

``local_cluster`` reuses a running cluster when ``$KUBEBOOK_KUBECONFIG`` points
at one; otherwise it starts the ``pytest`` local cluster (single topology) and
stops it at the end of the session. Notebook items (nbval) get it automatically,
and the kernel they start inherits ``$KUBEBOOK_KUBECONFIG`` and
``KUBEBOOK_HEADLESS=1`` (nobody can press a button under nbval: the mutation
guard fails instead of waiting, plotly embeds its library for offline reports).

Markers: ``unit`` (tests/unit: pure and fast, ``pytest -m unit``), ``process``
(tests that start kernels, daemons, ``go build`` or other processes; they live
beside the unit tests of their module but are not ``unit``), ``cluster``,
``notebook`` and ``browser``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubebook import cluster as cluster_mod

ROOT = Path(__file__).resolve().parent.parent
os.environ["KUBEBOOK_HEADLESS"] = "1"
# Lab progress written by nbval runs of the labs goes to a throwaway folder, not the user's own progress.
if "KUBEBOOK_LABS_DIR" not in os.environ:
    os.environ["KUBEBOOK_LABS_DIR"] = tempfile.mkdtemp(prefix="kubebook-labs-")
    atexit.register(shutil.rmtree, os.environ["KUBEBOOK_LABS_DIR"], ignore_errors=True)  # ours: gone with the run

# Tests in tests/unit that start processes: a whole file (None) or the named tests.
PROCESS_TESTS: dict[str, set[str] | None] = {
    "test_cli.py": None,  # the CLI in a fresh interpreter
    "test_cluster_credentials.py": None,  # a client killed without exit hooks
    "test_docs_site.py": None,  # the docs generator and mkdocs build in fresh interpreters
    "test_schedule_run.py": None,  # the scheduler daemon
    "test_schedule_warmkernels.py": None,  # Jupyter kernels
    "test_node_image_wget.py": None,  # Debian's busybox against an HTTP server on 127.0.0.1
    "test_audit_cli.py": {"test_a_manifest_audit_never_imports_pandas_or_the_kubernetes_client"},
    "test_localcluster.py": {"test_unreachable_module_proxy_is_a_clear_error"},  # a real go build
    "test_schedule_state.py": {
        "test_the_run_lock_held_by_another_process_is_refused_at_once_and_freed_when_it_dies"},
}


def _spawns(path: Path, name: str) -> bool:
    if path.name not in PROCESS_TESTS:
        return False
    names = PROCESS_TESTS[path.name]
    return names is None or name.split("[", 1)[0] in names


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
            item.add_marker(pytest.mark.usefixtures("local_cluster"))
        elif "cluster" in path.parts and path.parent.name == "cluster":
            item.add_marker(pytest.mark.cluster)
        elif path.parent.name == "unit" and _spawns(path, item.name):
            item.add_marker(pytest.mark.process)
        elif path.parent.name == "unit":
            item.add_marker(pytest.mark.unit)
        elif path.parent.name == "notebooks":
            item.add_marker(pytest.mark.notebook)
        elif path.parent.name == "browser":
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[Path]:
    """Path to an admin kubeconfig of a running, healthy local control plane."""
    existing = os.environ.get("KUBEBOOK_KUBECONFIG")
    if existing:
        cluster_mod.connect(existing)
        yield Path(existing)
        return
    from kubebook.localcluster.manager import LocalCluster

    os.environ.setdefault("KUBEBOOK_UNSAFE_NO_FSYNC", "1")  # test-only: etcd skips fsync
    lc = LocalCluster(name="pytest", topology="single", nodes=3)
    lc.down(purge=True)  # a previous session killed mid-way must not leave state behind
    lc.up()
    os.environ["KUBEBOOK_KUBECONFIG"] = str(lc.kubeconfig)
    try:
        yield lc.kubeconfig
    finally:
        os.environ.pop("KUBEBOOK_KUBECONFIG", None)
        lc.down(purge=True)


@pytest.fixture(scope="session")
def kube(local_cluster: Path) -> cluster_mod.Cluster:
    """A connected admin Cluster on the session's local control plane."""
    return cluster_mod.connect(local_cluster)


@pytest.fixture
def namespace(kube: cluster_mod.Cluster) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    from kubernetes import client

    name = f"t-{uuid.uuid4().hex[:8]}"
    kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        kube.core.delete_namespace(name)
