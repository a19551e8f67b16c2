"""A trainee in a real browser: JupyterLab on loopback, Debian's Chromium driven by Playwright.

Opens lab 1, runs its cells, clicks Check on the first step and sees the failure reason,
applies the reference solution of that step, clicks Check again and sees the pass; then reveals a
hint (its code rendered as code) and finds the card's Terminal row. The
kernel runs without KUBEBOOK_HEADLESS, so the notebook shows its ipywidgets buttons exactly
as it does for a person.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubebook import labs
from kubebook.cluster import Cluster
from kubebook.labs import model

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
LAB = model.get("rbac-least-privilege")
STEP = LAB.steps[0]


@pytest.fixture(scope="module")
def jupyterlab(local_cluster: Path, tmp_path_factory: pytest.TempPathFactory,
               jupyterlab_server: Callable[..., Any]) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server on 127.0.0.1 serving a copy of lab 1; its URL (with token) and its folder."""
    root = tmp_path_factory.mktemp("jupyterlab")
    shutil.copy(ROOT / LAB.notebook, root / "lab.ipynb")
    home = tmp_path_factory.mktemp("jupyterlab-home")
    env = {"KUBEBOOK_KUBECONFIG": str(local_cluster), "KUBEBOOK_LABS_DIR": str(home / "progress"),
           "KUBEBOOK_TRAINEE": "browser"}
    with jupyterlab_server(root, home, env) as (base, token):
        yield f"{base}/lab/tree/lab.ipynb?token={token}", home


def test_check_shows_the_failure_then_the_pass_after_the_solution(kube: Cluster, jupyterlab: tuple[str, Path],
                                                                  browser: Any) -> None:
    from playwright.sync_api import expect

    url, root = jupyterlab
    labs.reset(kube, LAB.id, who="browser")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.set_default_timeout(60_000)
        page.goto(url)
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)  # the kernel is ready
        page.locator(".jp-Notebook .jp-Cell:visible").first.click()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.locator("li[data-command='runmenu:run-all']").click()
        check = page.locator("button.kubebook-lab-check").first
        result = page.locator(".kubebook-lab-result").first
        check.wait_for(timeout=120_000)
        check.click()
        expect(result).to_contain_text("FAIL", timeout=60_000)
        expect(result).to_contain_text("ci-deployer")
        labs.solve(kube, LAB.id, STEP.id, who="browser")
        for _attempt in range(10):  # RBAC reaches the authorizer's cache a moment after the write
            check.click()
            expect(result).not_to_contain_text("checking", timeout=30_000)
            if "PASS" in result.inner_text():
                break
            time.sleep(1)
        expect(result).to_contain_text("PASS")
        expect(page.locator("button.kubebook-lab-hint").first).to_be_visible()
        # issue 21: hints show their code as code, not raw backticks; the card says which kubectl the terminal has
        page.locator("button.kubebook-lab-hint").first.click()
        expect(page.locator(".kubebook-lab-hints code").first).to_be_visible(timeout=30_000)
        expect(page.locator(".kubebook-lab-hints").first).not_to_contain_text("`")
        expect(page.locator("th", has_text="Terminal").first).to_be_visible()
    except Exception:
        (root / "page.png").write_bytes(page.screenshot(full_page=True))
        raise
    finally:
        page.close()
