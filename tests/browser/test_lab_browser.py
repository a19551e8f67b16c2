"""A trainee in a real browser: JupyterLab on loopback, Debian's Chromium driven by Playwright.

Opens lab 1, runs its cells, clicks Check on the first step and sees the failure reason,
applies the reference solution of that step, clicks Check again and sees the pass. The
kernel runs without KUBEBOOK_HEADLESS, so the notebook shows its ipywidgets buttons exactly
as it does for a person.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubebook import labs
from kubebook.cluster import Cluster
from kubebook.labs import model

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
LAB = model.get("rbac-least-privilege")
STEP = LAB.steps[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def jupyterlab(local_cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server on 127.0.0.1 serving a copy of lab 1; its URL (with token) and its folder."""
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is missing: make test installs it (scripts/ensure-debian-packages.sh)")
    root = tmp_path_factory.mktemp("jupyterlab")
    shutil.copy(ROOT / LAB.notebook, root / "lab.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "KUBEBOOK_HEADLESS"}
    home = tmp_path_factory.mktemp("jupyterlab-home")
    env.update(KUBEBOOK_KUBECONFIG=str(local_cluster), KUBEBOOK_LABS_DIR=str(home / "progress"),
               KUBEBOOK_TRAINEE="browser", JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    settings = home / "settings" / "@jupyterlab"
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "apputils-extension").mkdir(parents=True)
    # every cell rendered (no windowing, so every Check button exists); no news prompt
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    log = open(home / "jupyterlab.log", "w")  # noqa: SIM115 - closed after the server stops
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(home / 'jupyterlab.log').read_text()[-2000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/lab/tree/lab.ipynb?token={token}", home
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_check_shows_the_failure_then_the_pass_after_the_solution(kube: Cluster, jupyterlab: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, root = jupyterlab
    labs.reset(kube, LAB.id, who="browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
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
        except Exception:
            (root / "page.png").write_bytes(page.screenshot(full_page=True))
            raise
        finally:
            browser.close()
