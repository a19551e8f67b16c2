"""Warm kernels become exactly the kernel a cold launch would start, die with the run's timeout, or step aside."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

from kubebook.notebook import records_from_notebook
from kubebook.runner import run_notebook
from kubebook.schedule.warmkernels import WarmKernelPool, warm_kernels

pytestmark = pytest.mark.process  # Jupyter kernels

PROBE = """
import os, sys, time
open(pidfile, "w").write(str(os.getpid())) if pidfile else None  # first: under load an import can outlast a timeout
from kubebook.notebook import record


record("pid", os.getpid())
record("cwd", os.getcwd())
record("run_id", os.environ.get("KUBEBOOK_RUN_ID"))
record("argv0", sys.argv[0])
record("cwd_importable", os.getcwd() in sys.path or "" in sys.path)
time.sleep(seconds)
"""


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('seconds = 0.0  # how long to wait at the end\n'
                                       'pidfile = ""  # where to write the pid')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(PROBE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kubebook"] = {"title": "probe", "description": "d", "category": "test", "risk": "readonly",
                               "rbac": [], "parameters": {"type": "object", "properties": {
                                   "seconds": {"type": "number"}, "pidfile": {"type": "string"}}}}
    folder = tmp_path / "nb"
    folder.mkdir()
    nbformat.write(nb, folder / "probe.ipynb")
    return folder / "probe.ipynb"


def records(outcome: object) -> dict[str, object]:
    run_dir = Path(outcome.run_dir)  # type: ignore[attr-defined]
    return records_from_notebook(nbformat.read(run_dir / "notebook.ipynb", as_version=4))


def test_a_warm_kernel_sees_what_a_cold_one_sees(probe: Path, tmp_path: Path) -> None:
    archive = tmp_path / "reports"
    cold = run_notebook(probe, {}, archive=archive)
    with warm_kernels(ready=1, budget=1) as pool:
        warm = run_notebook(probe, {}, archive=archive)
    assert pool.handed_out == 1, "the run did not use the warm kernel"
    assert cold.status == warm.status == "succeeded"
    cold_seen, warm_seen = records(cold), records(warm)
    assert warm_seen["run_id"] == warm.run_id and cold_seen["run_id"] == cold.run_id
    for key in ("cwd", "argv0", "cwd_importable"):
        assert warm_seen[key] == cold_seen[key], key
    assert warm_seen["cwd"] == str(probe.parent)
    assert str(warm_seen["argv0"]).endswith("ipykernel_launcher.py")


def test_a_warm_kernel_is_killed_by_the_run_timeout(probe: Path, tmp_path: Path) -> None:
    with warm_kernels(ready=1, budget=1) as pool:
        outcome = run_notebook(probe, {"seconds": 600, "pidfile": str(tmp_path / "pid")}, archive=tmp_path / "reports",
                               timeout=4)
    assert pool.handed_out == 1 and outcome.status == "timeout"
    # Under heavy load the deadline can pass before the kernel runs a line: the pool knows its pid anyway.
    pid = int((tmp_path / "pid").read_text()) if (tmp_path / "pid").exists() else pool.handed_pids[0]
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "State:\tZ" in status.read_text(), f"kernel {pid} survived its timeout"


def test_the_pool_never_starts_more_than_its_budget_and_idle_processes_end_with_it(tmp_path: Path) -> None:
    pool = WarmKernelPool(ready=2, budget=3)
    pool.fill()
    assert pool.started == 2
    idle = list(pool._idle)
    pool.close()
    assert all(process.poll() is not None for process in idle)
    pool.fill()
    pool.fill()
    assert pool.started == 3
    pool.close()


def test_unusual_launches_fall_back_to_a_cold_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = WarmKernelPool(ready=0, budget=0)
    log = (tmp_path / "kernel.log").open("ab")
    try:
        usual = [sys.executable, "-m", "ipykernel_launcher", "-f", "c.json"]
        env = dict(pool._env)
        assert pool.eligible(usual, {"stdout": log, "stderr": log, "env": env}) == log.name
        assert pool.eligible(["/usr/bin/python3", *usual[1:]], {"stdout": log, "stderr": log, "env": env}) is None
        assert pool.eligible(usual, {"stdout": None, "stderr": None, "env": env}) is None
        changed = {**env, "PYTHONPATH": "/somewhere/else"}
        assert pool.eligible(usual, {"stdout": log, "stderr": log, "env": changed}) is None
        assert pool.take(usual, {"stdout": log, "stderr": log, "env": env}) is None, "no warm process left"
    finally:
        log.close()


def test_the_default_provisioner_is_restored_after_the_block() -> None:
    from jupyter_client.provisioning.factory import KernelProvisionerFactory

    factory = KernelProvisionerFactory.instance()
    before = factory.default_provisioner_name
    with warm_kernels(ready=0, budget=0):
        assert factory.default_provisioner_name == "kubebook-warm"
    assert factory.default_provisioner_name == before
