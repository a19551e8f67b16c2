"""The report browser in a real JupyterLab: a run's link opens its whole report in a new tab, charts drawn.

Two archives of real headless runs (``kubebook run notebooks/report-browser.ipynb``
twice: the second run charts the first), one outside JupyterLab's root and a copy
inside it. For each, a copy of the report browser pointed at it is run in
JupyterLab (Debian's Chromium, Playwright, everything on 127.0.0.1, any request
off loopback refused); clicking the charting run's link must open a new tab with
the report's title and a drawn plotly chart, served by kubebook's Jupyter server
extension (enabled by ``make setup``), with no token in the link, the notebook or
any file. Before the extension, the link was relative: outside the root it led
nowhere, inside it opened JupyterLab's script-less HTML viewer in the same window.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
LOOPBACK = ("127.0.0.1", "localhost")

pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason="Debian chromium is not installed "
                                "('make test' installs it with scripts/ensure-debian-packages.sh)")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """An archive of two real report-browser runs; the second one's report draws a plotly chart of the first.

    Returns the archive, the charting run's id and its report's ``<title>``.
    """
    folder = tmp_path_factory.mktemp("outside") / "archive"
    for _ in range(2):
        subprocess.run([str(Path(sys.executable).parent / "kubebook"), "run", "notebooks/report-browser.ipynb",
                        "--archive", str(folder), "--no-progress"], cwd=ROOT, check=True, capture_output=True,
                       timeout=300)
    runs = sorted(folder.glob("report-browser/*/*/*/report.html"))
    assert len(runs) == 2, runs
    charting = runs[-1].read_text(encoding="utf-8")
    assert "plotly-graph-div" in charting and "../../../../assets/sha256-" in charting, "a chart, linked assets"
    earlier = re.search(r'<a href="([^"]+)"[^>]*>' + re.escape(runs[0].parent.name) + "<", charting)
    assert earlier and (runs[-1].parent / earlier.group(1)).resolve() == runs[0].resolve(), (
        "headless, a link works from the archived report's own folder")
    title = re.search(r"<title>([^<]+)</title>", charting)
    assert title, "the report has a title"
    return folder, runs[-1].parent.name, title.group(1)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory,
        jupyterlab_server: Callable[..., Any]) -> Iterator[tuple[str, Path, str]]:
    """A JupyterLab on 127.0.0.1 (interactive kernels); its notebook URL pattern, root folder and token."""
    root = tmp_path_factory.mktemp("lab")
    home = tmp_path_factory.mktemp("lab-home")
    with jupyterlab_server(root, home, {}, drop=("KUBEBOOK_ARCHIVE",)) as (base, token):
        probe = requests.get(f"{base}/kubebook/report", params={"token": token, "path": "/nowhere"}, timeout=10)
        assert probe.status_code == 404 and probe.text.startswith("kubebook:"), (
            "kubebook's Jupyter server extension is not enabled in this environment (make setup installs "
            "jupyter-config/jupyter_server_config.d/kubebook.json)")
        yield f"{base}/lab/workspaces/{{0}}/tree/{{0}}.ipynb?token={token}", root, token


def report_browser_on(archive: Path, target: Path) -> None:
    """A copy of the report browser whose ``archive`` parameter names ``archive``, as a person would type it."""
    nb = json.loads((ROOT / "notebooks" / "report-browser.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    lines = "".join(cell["source"]).splitlines()
    cell["source"] = "\n".join(f"archive = {str(archive)!r}" if line.startswith("archive =") else line
                               for line in lines)
    target.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def run_all(context: object, url: str) -> object:
    """A page with the notebook open and every cell run to the end."""
    page = context.new_page()  # type: ignore[attr-defined]
    page.set_default_timeout(120_000)  # a loaded 2-core machine takes its time to draw JupyterLab
    dialog = page.locator("dialog.jp-Dialog", has_text="Server Connection Error")
    page.add_locator_handler(dialog, lambda: dialog.get_by_role("button").first.click(), no_wait_after=True)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
    page.locator(".jp-Notebook .jp-Cell:visible").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li[data-command='runmenu:run-all']").click()
    page.wait_for_function(
        "() => { const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];"
        " return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)); }",
        timeout=300_000)
    return page


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_a_run_link_opens_the_report_with_its_chart_in_a_new_tab(
        where: str, archive: tuple[Path, str, str], lab: tuple[str, Path, str], browser: object) -> None:
    folder, run_id, title = archive
    url, root, token = lab
    if where == "inside":
        inside = root / "archive"
        if not inside.exists():
            shutil.copytree(folder, inside, symlinks=True)
        folder = inside
    name = f"browse-{where}"
    report_browser_on(folder, root / f"{name}.ipynb")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    outside: list[str] = []

    def guard(route: object) -> None:  # the context's pages and popups alike: loopback only
        request_url = route.request.url  # type: ignore[attr-defined]
        if urlparse(request_url).hostname in LOOPBACK or request_url.startswith(("data:", "about:")):
            route.continue_()  # type: ignore[attr-defined]
        else:
            outside.append(request_url)
            route.abort()  # type: ignore[attr-defined]

    context.route("**/*", guard)
    try:
        page = run_all(context, url.format(name))
        notebook = page.locator(".jp-Notebook")  # type: ignore[attr-defined]
        assert not page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count()  # type: ignore[attr-defined]
        link = page.get_by_role("link", name=run_id, exact=True)  # type: ignore[attr-defined]
        href = link.get_attribute("href")
        assert href.startswith("/kubebook/report?"), href  # root-relative: JupyterLab leaves it to the browser
        assert parse_qs(urlparse(href).query)["path"] == [str(folder / "report-browser" / run_id[:4] / run_id[4:6]
                                                             / run_id / "report.html")], href
        with page.expect_popup(timeout=30_000) as opened:  # type: ignore[attr-defined]
            link.click()
        report = opened.value
        report.set_default_timeout(60_000)
        report.wait_for_load_state()
        report.locator(".js-plotly-plot .main-svg").first.wait_for(state="attached")
        assert report.title() == title
        assert urlparse(report.url).path == "/kubebook/report" and token not in report.url
        assert token not in notebook.inner_html()
        assert outside == [], outside
        page.close()
    finally:
        context.close()
    for path in root.rglob("*"):  # nothing JupyterLab saved (checkpoints, autosave) holds the token
        if path.is_file() and "archive" not in path.relative_to(root).parts:
            assert token.encode() not in path.read_bytes(), path


def test_the_report_page_needs_the_login_and_runs_sealed_off_in_a_sandbox(
        archive: tuple[Path, str, str], lab: tuple[str, Path, str]) -> None:
    folder, run_id, title = archive
    url, _, token = lab
    base = url.split("/lab/", 1)[0]
    report = next(folder.glob(f"report-browser/*/*/{run_id}/report.html"))
    anonymous = requests.get(f"{base}/kubebook/report", params={"path": str(report)}, allow_redirects=False,
                             timeout=30)
    assert anonymous.status_code in (302, 403) and title not in anonymous.text
    answer = requests.get(f"{base}/kubebook/report", params={"path": str(report), "token": token}, timeout=30)
    assert answer.status_code == 200 and f"<title>{title}</title>" in answer.text
    assert answer.headers["Content-Security-Policy"].startswith("sandbox allow-scripts; default-src 'none';")
    assert "../../../../assets/" not in answer.text, "the assets are inlined: the page fetches nothing"
    ledger = requests.get(f"{base}/kubebook/report", params={"path": str(folder / "ledger.jsonl"), "token": token},
                          timeout=30)
    assert ledger.status_code == 404 and ledger.text.startswith("kubebook:")
    for query in (f"path={str(report.parent).replace('/report-browser/', '/%FF/')}/report.html",  # not UTF-8
                  "path=/" + "a/" * 3000 + "r/2026/11/x/report.html"):
        refused = requests.get(f"{base}/kubebook/report?{query}&token={token}", timeout=30)
        assert refused.status_code in (400, 404) and title not in refused.text, refused.status_code
