"""Real headless runs reproducing issue 10: secrets in every form, signals, output flood, report size.

Each notebook is built here with nbformat and run by the real runner (papermill,
a real kernel); the assertions read the archived bytes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from kubebook.archive import Archive
from kubebook.runner import EXIT_CELL_ERROR, prepare_notebook, run_notebook
from kubebook.runner.redact import MIN_PREFIX, Redactor

WEIRD = 'p\xe4ss"w\\ord\nline-\u00fc-7f3a'
CREDS = {"user": "admin-user-9c1e", "keys": ["key-aaaa-1111-zz", "key-bbbb-2222-zz"]}
LONG = "T" * 20 + "abcdefghijklmnopqrstuvwxyz0123456789" + "Z" * 12  # 68 characters, registered in the kernel
AMP = "amp&<lt>gt-secret"


def build(folder: Path, name: str, properties: dict, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    defaults = "\n".join(f"{key} = {prop.get('default')!r}  # {key}" for key, prop in properties.items())
    params = nbformat.v4.new_code_cell(defaults)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(source) for source in cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kubebook"] = {"title": name, "description": "d", "category": "test", "risk": "readonly",
                               "rbac": [], "parameters": {"type": "object", "properties": properties}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


SECRETS = {
    "token": {"type": "string", "secret": True, "default": ""},
    "creds": {"type": "object", "secret": True, "default": {}},
    "amp": {"type": "string", "secret": True, "default": ""},
}
SECRET_CELLS = [
    "print(repr(token), token)\nprint(creds, repr(creds))",
    "from kubebook.secrets import register_secret_values\n"
    f"register_secret_values([{LONG!r}])\nimport pandas as pd\npd.DataFrame({{'tok': [{LONG!r}]}})",
    "raise RuntimeError(f'bad & <{amp}> {token!r}')",
]


def all_forms_absent(root: Path, *, secrets: tuple = (WEIRD, CREDS, LONG, AMP)) -> None:
    redactor = Redactor(secrets)
    for path in sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]:
        assert redactor.scan(path.read_bytes()) == [], f"{path}: {redactor.scan(path.read_bytes())}"


def test_secrets_in_every_form_never_reach_the_archive_and_a_failing_run_is_failed(tmp_path: Path) -> None:
    notebook = build(tmp_path / "nb", "secrets", SECRETS, SECRET_CELLS)
    archive = tmp_path / "archive"
    outcome = run_notebook(notebook, {"token": WEIRD, "creds": CREDS, "amp": AMP}, archive=archive, show_code=True)
    assert (outcome.status, outcome.exit_code) == ("failed", EXIT_CELL_ERROR), outcome.error
    assert outcome.run_dir is not None and outcome.run_dir.parent.parent.parent.parent == archive
    all_forms_absent(archive)
    html = (outcome.run_dir / "report.html").read_text()
    assert "***REDACTED***" in html and LONG[:MIN_PREFIX] not in html
    prepared = prepare_notebook(notebook, {"token": WEIRD, "creds": CREDS, "amp": AMP}, tmp_path / "p.ipynb")
    all_forms_absent(prepared, secrets=(WEIRD, CREDS, AMP))  # LONG is in the notebook's own code


def test_a_signal_archives_an_interrupted_report_and_removes_the_temporary_files(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    notebook = build(tmp_path / "nb", "slow", {"token": {"type": "string", "secret": True, "default": ""}},
                     [f"import pathlib, time\npathlib.Path({str(marker)!r}).write_text('x')\n"
                      "from kubebook.secrets import register_secret_values\n"
                      "register_secret_values(['registered-' + token])\ntime.sleep(600)"])
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    archive = tmp_path / "archive"
    process = subprocess.Popen(
        [sys.executable, "-m", "kubebook.cli", "run", str(notebook), "-p", "token", "sig-secret-4b1d",
         "--archive", str(archive), "--no-progress"], env={**os.environ, "TMPDIR": str(private_tmp)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), process.communicate(timeout=5)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, err
    runs = Archive(archive).list_runs()
    assert [r.status for r in runs] == ["interrupted"], err
    found = json.loads((runs[0].run_dir / "results.json").read_text())
    assert "SIGTERM" in found["error"]
    assert [p for p in private_tmp.iterdir() if p.name.startswith("kubebook-run-")] == [], "temporary files left"
    assert Redactor(["sig-secret-4b1d", "registered-sig-secret-4b1d"]).scan(
        b"".join(p.read_bytes() for p in archive.rglob("*") if p.is_file())) == []


CHART_CELLS = [
    "import os\nfrom kubebook.notebook import record\n"
    "record('archive_env', os.environ.get('KUBEBOOK_ARCHIVE'))\n"
    "record('headless', os.environ.get('KUBEBOOK_HEADLESS'))",
    "from kubebook.views import configure_plotly\nconfigure_plotly()\nimport plotly.express as px\n"
    "px.line(x=list(range(50)), y=[i * i for i in range(50)]) if chart else None",
    "for i in range(flood):\n    print('flood line', i, 'x' * 200)",
]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    monkeypatch.delenv("KUBEBOOK_ARCHIVE", raising=False)
    return root


def test_charted_run_is_small_links_shared_assets_caps_output_and_exports_the_archive(repo: Path) -> None:
    properties = {"chart": {"type": "boolean", "default": True}, "flood": {"type": "integer", "default": 0}}
    notebook = build(repo / "runbooks", "chart", properties, CHART_CELLS)
    charted = run_notebook(notebook, {}, archive=Path("evidence"))
    flooded = run_notebook(notebook, {"chart": False, "flood": 40_000}, archive=Path("evidence"), output_cap="256K")
    archive = repo / "evidence"
    for outcome in (charted, flooded):
        assert outcome.status == "succeeded", outcome.error
        folder_bytes = sum(p.stat().st_size for p in outcome.run_dir.iterdir())
        assert folder_bytes < 1_000_000, f"run folder is {folder_bytes} bytes"
        found = json.loads((outcome.run_dir / "results.json").read_text(),
                           parse_constant=lambda c: pytest.fail(f"results.json holds {c}"))
        assert found["records"]["archive_env"] == str(archive), "the kernel sees the absolute archive"
        assert found["records"]["headless"] == "1"
        assert found["notebook_id"] == "runbooks/chart.ipynb"
        assert found["output_truncated"] is (outcome is flooded)
    assert "output truncated" in (flooded.run_dir / "notebook.ipynb").read_text()
    assert "../../../../assets/sha256-" in (charted.run_dir / "report.html").read_text()
    stored = sorted((archive / "assets").iterdir())
    assert any(p.suffix == ".js" and p.stat().st_size > 1_000_000 for p in stored), "plotly.js is stored once"
    store = Archive(archive)
    assert store.verify() == []
    js = next(p for p in stored if p.suffix == ".js")
    os.chmod(js, 0o644)
    js.write_text("tampered")
    assert any(p.startswith(f"assets/{js.name}: modified") for p in store.verify()), store.verify()
