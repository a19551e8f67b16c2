"""Session fixtures: the real local control plane, started once and shared.

``local_cluster`` reuses a running cluster when ``$KUBEBOOK_KUBECONFIG`` points
at one; otherwise it starts the ``pytest`` local cluster (single topology) and
stops it at the end of the session. Notebook items (nbval) get it automatically,
and the kernel they start inherits ``$KUBEBOOK_KUBECONFIG`` and
``KUBEBOOK_HEADLESS=1`` (nobody can press a button under nbval: the mutation
guard fails instead of waiting, plotly embeds its library for offline reports).

Markers come from the folder: ``unit`` (tests/unit/<area>/: pure and fast,
``pytest -m unit``), ``cluster``, ``notebook`` and ``browser``. A module or test
beside the unit tests that starts kernels, daemons, ``go build`` or other
processes says so itself (``pytestmark = pytest.mark.process`` or
``@pytest.mark.process``) and is ``process``, not ``unit``.
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

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
            item.add_marker(pytest.mark.usefixtures("local_cluster"))
        elif "cluster" in path.parts and path.parent.name == "cluster":
            item.add_marker(pytest.mark.cluster)
        elif "unit" in path.relative_to(ROOT).parts[:2]:
            # tests/unit/<area>/: unit, unless the module or the test says it starts processes (pytest.mark.process)
            if item.get_closest_marker("process") is None:
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
