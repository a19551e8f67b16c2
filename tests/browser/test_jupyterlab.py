"""harden-audit and harden-remediate in a real JupyterLab, driven in Debian's Chromium by Playwright.

What a person does: open the runbook, run all cells, read the headline; for the
remediation (on a throwaway namespace, ``dry_run = False``) press Apply and see
the outcome and the re-audit redrawn in place. Everything stays on loopback:
JupyterLab listens on 127.0.0.1 and the page may fetch nothing from elsewhere.
Chromium is Debian's (``make test`` installs it); Playwright never downloads one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
PSA = "pod-security.kubernetes.io/enforce"

pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason="Debian chromium is not installed "
                                "('make test' installs it with scripts/ensure-debian-packages.sh)")


def with_parameters(source: Path, target: Path, **values: object) -> None:
    """A copy of a runbook whose parameters cell assigns ``values`` (as a person would type them)."""
    nb = json.loads(source.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    lines = "".join(cell["source"]).splitlines()
    for name, value in values.items():
        text = repr(value)
        lines = [f"{name} = {text}" if line.split("=", 1)[0].strip() == name else line for line in lines]
    cell["source"] = "\n".join(lines)
    target.write_text(json.dumps(nb, indent=1), encoding="utf-8")


@pytest.fixture(scope="module")
def lab(local_cluster: Path, tmp_path_factory: pytest.TempPathFactory,
        jupyterlab_server: Callable[..., Any]) -> Iterator[tuple[str, Path]]:
    """A JupyterLab on 127.0.0.1 over a folder of runbook copies; interactive kernels (not headless)."""
    root = tmp_path_factory.mktemp("lab")
    home = tmp_path_factory.mktemp("lab-home")
    env = {"KUBEBOOK_KUBECONFIG": str(local_cluster), "KUBEBOOK_ARCHIVE": str(home / "reports")}
    with jupyterlab_server(root, home, env) as (base, token):
        yield f"{base}/lab/workspaces/{{0}}/tree/{{0}}.ipynb?token={token}", root  # a fresh workspace each


def open_and_run_all(browser: object, url: str) -> object:
    """A page with the notebook open and every cell sent to the kernel; requests off loopback are refused."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    outside: list[str] = []

    def guard(route: object) -> None:
        request_url = route.request.url  # type: ignore[attr-defined]
        if urlparse(request_url).hostname in ("127.0.0.1", "localhost") or request_url.startswith("data:"):
            route.continue_()  # type: ignore[attr-defined]
        else:
            outside.append(request_url)
            route.abort()  # type: ignore[attr-defined]

    page.set_default_timeout(120_000)  # a loaded 2-core machine takes its time to draw JupyterLab
    # A "Server Connection Error" dialog (the server was slow to answer a poll; JupyterLab reconnects by
    # itself) would block every click: dismiss it whenever it shows.
    dialog = page.locator("dialog.jp-Dialog", has_text="Server Connection Error")
    page.add_locator_handler(dialog, lambda: dialog.get_by_role("button").first.click(), no_wait_after=True)
    page.route("**/*", guard)
    page.outside = outside  # type: ignore[attr-defined]
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)  # the kernel is ready
    page.locator(".jp-Notebook .jp-Cell:visible").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li[data-command='runmenu:run-all']").click()
    return page


def wait_done(page: object, timeout_ms: int = 300_000) -> None:
    """Until every code cell has run: each prompt shows its execution count ("[7]:", not "[ ]" or "[*]")."""
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => { const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];"
        " return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)); }",
        timeout=timeout_ms)


def errors_in(page: object) -> list[str]:
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()  # type: ignore[attr-defined]


def test_harden_audit_shows_its_headline_in_jupyterlab(lab: tuple[str, Path], browser: object) -> None:
    url, root = lab
    shutil.copy(ROOT / "runbooks" / "harden-audit.ipynb", root / "harden-audit.ipynb")
    page = open_and_run_all(browser, url.format("harden-audit"))
    wait_done(page)
    text = page.locator(".jp-Notebook").inner_text()  # type: ignore[attr-defined]
    assert "POSTURE SCORE" in text.upper(), text[:2000]
    # an interactive run archives nothing, so it claims no "first archived run" (issue 21)
    assert "this interactive run is not archived" in text and "first archived run" not in text, text[:2000]
    assert not errors_in(page), errors_in(page)
    assert page.locator(".jp-Notebook .js-plotly-plot").count() >= 1, "plotly figures are drawn"  # type: ignore[attr-defined]
    assert page.outside == [], page.outside  # type: ignore[attr-defined]


def test_harden_remediate_applies_after_the_click_and_redraws(lab: tuple[str, Path], browser: object, kube,
                                                              namespace: str) -> None:
    url, root = lab
    with_parameters(ROOT / "runbooks" / "harden-remediate.ipynb", root / "harden-remediate.ipynb",
                    namespaces=namespace, fixes="psa-labels,default-deny", dry_run=False, confirm=False)
    page = open_and_run_all(browser, url.format("harden-remediate"))
    button = page.get_by_role("button", name="Apply 2 change(s)")  # type: ignore[attr-defined]
    button.wait_for(timeout=300_000)
    wait_done(page)
    notebook = page.locator(".jp-Notebook")  # type: ignore[attr-defined]
    assert "waiting for confirmation" in notebook.inner_text()
    assert PSA not in (kube.core.read_namespace(namespace).metadata.labels or {}), "nothing before the click"
    assert f"+    {PSA}: baseline" in notebook.inner_text(), "the server's dry-run diff is shown"

    button.click()
    page.get_by_text("applied 2 change(s)").wait_for(timeout=120_000)  # type: ignore[attr-defined]
    try:  # the re-audit runs the whole audit again in the kernel, then redraws
        page.get_by_text("still failing").last.wait_for(timeout=240_000)  # type: ignore[attr-defined]
        page.get_by_text("0 still failing").wait_for(timeout=240_000)  # type: ignore[attr-defined]
    finally:
        shown = notebook.inner_text()
    assert "0 still failing" in shown, shown[-3000:]
    assert "waiting for confirmation" not in shown, "the outcome is redrawn in place"
    assert kube.core.read_namespace(namespace).metadata.labels[PSA] == "baseline"
    assert kube.networking.list_namespaced_network_policy(namespace).items, "the default deny exists"
    assert page.outside == [], page.outside  # type: ignore[attr-defined]
