"""What the browser tests share: a JupyterLab on 127.0.0.1 and Debian's Chromium driven by Playwright.

Each test module starts its own JupyterLab (its own root folder, settings and environment)
through :func:`jupyterlab_server`, and gets its own Chromium from the module-scoped
``browser`` fixture (Playwright's sync API allows one instance at a time per thread).
Chromium is Debian's (``make test`` installs it); Playwright never downloads one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import requests

from kubebook.localcluster.processes import free_port

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
# Kernels started by JupyterLab are interactive: the suite's headless switch must not reach them.
NOT_FOR_KERNELS = ("KUBEBOOK_HEADLESS",)


@contextmanager
def _jupyterlab(root: Path, home: Path, env: dict[str, str], drop: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """A JupyterLab over ``root`` (state under ``home``) until the block ends; yields its base URL and token.

    Every cell is rendered (no windowing, so every button and output exists in the page) and no news
    or update prompt shows. ``env`` is added to the environment, names in ``drop`` are removed from it.
    """
    port, token = free_port(), secrets.token_hex(16)
    environment = {k: v for k, v in os.environ.items() if k not in (*NOT_FOR_KERNELS, *drop)}
    environment.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
                       JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                       **env)
    settings = home / "settings" / "@jupyterlab"
    (settings / "notebook-extension").mkdir(parents=True, exist_ok=True)
    (settings / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    log_path = home / "lab.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/api/status", params={"token": token}, timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None:
                raise AssertionError(f"JupyterLab exited: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        else:
            raise AssertionError("JupyterLab did not answer within 60 s")
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(home / "runtime", ignore_errors=True)


@pytest.fixture(scope="session")
def jupyterlab_server() -> Callable[..., AbstractContextManager[tuple[str, str]]]:
    """Starts a JupyterLab: ``with jupyterlab_server(root, home, env, drop) as (base_url, token): ...``."""
    return _jupyterlab


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's headless Chromium under Playwright, one per test module."""
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is missing: make test installs it (scripts/ensure-debian-packages.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()
