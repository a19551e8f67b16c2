"""Headless runs with real papermill kernels: every way a run ends leaves the right archive behind."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import nbformat

from kubebook.archive import Archive
from kubebook.archive.ledger import sha256
from kubebook.archive.store import is_sealed
from kubebook.runner import (
    EXIT_CELL_ERROR,
    EXIT_KERNEL_DIED,
    EXIT_LEAKED,
    EXIT_OK,
    EXIT_TIMEOUT,
    prepare_notebook,
    run_notebook,
)
from kubebook.runner.redact import REDACTED

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def every_byte(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def forms(value: str) -> list[bytes]:
    raw = value.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), raw.hex().encode()]


def report_text(run_dir: Path) -> str:
    """The report's visible text (tags stripped, entities decoded): what a reader sees."""
    return html.unescape(re.sub(r"<[^>]+>", "", (run_dir / "report.html").read_text()))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_successful_run_is_archived_with_results_html_and_ledger(tmp_path: Path) -> None:
    outcome = run_notebook(FIXTURES / "trivial.ipynb", {"x": "41"}, archive=tmp_path)
    assert (outcome.status, outcome.exit_code, outcome.error) == ("succeeded", EXIT_OK, None)
    assert outcome.run_dir == tmp_path / "trivial" / f"{outcome.started:%Y}" / f"{outcome.started:%m}" / outcome.run_id
    assert is_sealed(outcome.run_dir)
    found = results(outcome.run_dir)
    assert found["records"] == {"answer": 42}
    assert found["parameters"] == {"x": 41}
    assert found["status"] == "succeeded" and found["trigger"] == "cli" and "@" in found["ran_by"]
    assert found["kubebook_version"] and len(found["git_commit"]) == 40
    assert found["duration_seconds"] > 0 and found["started"] < found["ended"]
    if not os.environ.get("KUBEBOOK_KUBECONFIG"):
        assert found["cluster_fingerprint"] is None
    text = report_text(outcome.run_dir)
    assert "42" in text and "print(x + 1)" not in text, "outputs shown, code hidden"
    nb = nbformat.read(outcome.run_dir / "notebook.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    entry = json.loads((tmp_path / "ledger.jsonl").read_text().splitlines()[-1])
    assert entry["run_id"] == outcome.run_id
    assert entry["artifacts"] == {name: sha256((outcome.run_dir / name).read_bytes())
                                  for name in ("notebook.ipynb", "report.html", "results.json")}
    assert outcome.run_id in (tmp_path / "index.html").read_text()
    assert Archive(tmp_path).verify() == []


def test_cell_error_exits_1_and_the_report_shows_the_failing_cell(tmp_path: Path) -> None:
    outcome = run_notebook(FIXTURES / "cell_error.ipynb", archive=tmp_path)
    assert (outcome.status, outcome.exit_code) == ("failed", EXIT_CELL_ERROR)
    assert "ValueError: deliberate failure in step two" in outcome.error
    text = report_text(outcome.run_dir)
    assert "An Exception was encountered at" in text
    assert "code cell 3 (" in text, "the banner names the cell as the report numbers it (no In [n] prompts shown)"
    assert "deliberate failure in step two" in text
    assert "raise ValueError(" in text, "the anchor repeats the failing cell's source although code is hidden"
    assert "never reached" not in text, "code is hidden and the cell after the failure did not run"
    assert results(outcome.run_dir)["stopped_at_cell"] == 3
    assert Archive(tmp_path).list_runs(status="failed")[0].run_id == outcome.run_id


def test_kernel_killed_mid_run_exits_4_with_an_archived_report(tmp_path: Path) -> None:
    outcome = run_notebook(FIXTURES / "kill_kernel.ipynb", archive=tmp_path)
    assert (outcome.status, outcome.exit_code) == ("kernel_died", EXIT_KERNEL_DIED)
    text = report_text(outcome.run_dir)
    assert "The kernel died" in text and "about to die" in text
    assert "os.kill(os.getpid(), signal.SIGKILL)" in text, "the report shows the cell that was running"
    assert results(outcome.run_dir)["status"] == "kernel_died"
    assert Archive(tmp_path).verify() == []


def test_whole_run_timeout_kills_the_kernel_and_archives_a_report(tmp_path: Path) -> None:
    pid_file = tmp_path / "kernel.pid"
    outcome = run_notebook(FIXTURES / "sleep.ipynb", {"pid_file": str(pid_file)}, archive=tmp_path / "a",
                           timeout=4)
    assert (outcome.status, outcome.exit_code) == ("timeout", EXIT_TIMEOUT)
    assert "--timeout 4 s" in outcome.error
    assert not alive(int(pid_file.read_text())), "the kernel was killed, not left sleeping"
    text = report_text(outcome.run_dir)
    assert "The run timed out" in text and "time.sleep(seconds)" in text
    assert "woke up" not in text


def test_cell_timeout_exits_3_naming_the_cell(tmp_path: Path) -> None:
    outcome = run_notebook(FIXTURES / "sleep.ipynb", {"seconds": 60}, archive=tmp_path, cell_timeout=2)
    assert (outcome.status, outcome.exit_code) == ("timeout", EXIT_TIMEOUT)
    assert "--cell-timeout 2 s" in outcome.error
    assert "A cell timed out" in report_text(outcome.run_dir)


def test_secret_parameter_is_absent_from_every_archived_byte(tmp_path: Path) -> None:
    canary = f"canary-{secrets.token_hex(12)}"
    outcome = run_notebook(FIXTURES / "secret_param.ipynb", {"api_token": canary}, archive=tmp_path)
    assert outcome.status == "succeeded", outcome.error
    everything = every_byte(tmp_path)
    for form in forms(canary):
        assert form not in everything, f"{form!r} reached the archive"
    found = results(outcome.run_dir)
    assert found["parameters"]["api_token"] == REDACTED
    assert found["records"]["token"] == REDACTED
    assert REDACTED in (outcome.run_dir / "report.html").read_text()


def test_deliberate_leak_is_caught_quarantined_and_not_archived(tmp_path: Path) -> None:
    """The notebook prints the secret as hex and as base64 of b'x' + secret (offset 1): forms the
    redactor does not rewrite. The post-run scan must find them in the final bytes and fail the run."""
    canary = f"canary-{secrets.token_hex(12)}"
    outcome = run_notebook(FIXTURES / "secret_param.ipynb", {"api_token": canary, "leak": "true"},
                           archive=tmp_path)
    assert (outcome.status, outcome.exit_code) == ("leaked", EXIT_LEAKED)
    assert outcome.run_dir == tmp_path / ".quarantine" / outcome.run_id
    assert outcome.run_dir.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / ".quarantine").stat().st_mode & 0o777 == 0o700
    report = json.loads((outcome.run_dir / "quarantine.json").read_text())
    assert report["status"] == "leaked"
    assert "secret #1 (hex)" in report["leaks"]["notebook.ipynb"]
    assert "secret #1 (base64 at offset 1)" in report["leaks"]["report.html"]
    assert canary.encode().hex().encode() in (outcome.run_dir / "notebook.ipynb").read_bytes()
    assert not list(tmp_path.glob("secret_param/*/*/*")), "nothing of the run is in the archive"
    assert Archive(tmp_path).list_runs() == []
    assert canary not in outcome.error and canary.encode().hex() not in outcome.error


def test_prepare_only_injects_parameters_without_running(tmp_path: Path) -> None:
    output = prepare_notebook(FIXTURES / "secret_param.ipynb", {"api_token": "t0ps3cret-value"},
                              tmp_path / "prepared.ipynb")
    nb = nbformat.read(output, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and f'api_token = "{REDACTED}"' in injected[0].source
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert b"t0ps3cret-value" not in output.read_bytes()


def test_cli_run_gives_the_kernel_the_cluster_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: x}}]\n")
    result = subprocess.run(
        [sys.executable, "-m", "kubebook.cli", "run", str(FIXTURES / "env.ipynb"), "--cluster", str(kubeconfig),
         "--archive", str(tmp_path / "archive"), "--no-progress"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "succeeded" in result.stdout and "report:" in result.stdout
    run_dir = Archive(tmp_path / "archive").list_runs()[0].run_dir
    found = results(run_dir)
    assert found["records"]["kubeconfig_env"] == str(kubeconfig.resolve())
    assert found["records"]["sink_set"] is True
    assert found["records"]["cwd"] == str(FIXTURES)
    assert found["cluster_fingerprint"] is None, "nothing answers on 127.0.0.1:1"
