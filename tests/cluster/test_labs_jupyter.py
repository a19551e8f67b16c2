"""`kubebook lab jupyter`: a JupyterLab terminal uses the local cluster's kubeconfig and kubebook's kubectl.

Issue 21: in JupyterLab's terminal KUBECONFIG was unset and ``kubectl`` was the host's own (an unrelated
v1.32). The command starts JupyterLab on 127.0.0.1 with both set; this test starts it for real, opens a
terminal through Jupyter's API and reads what the shell in it sees. No cluster is needed (a local
cluster's state folder with a kubeconfig is), so it runs anywhere kubectl is built.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from kubebook.labs.toolchain import built_kubectl
from kubebook.localcluster.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def terminal_output(base: str, token: str, command: str, expect: str, timeout: float = 60) -> str:
    """Run ``command`` in a new Jupyter terminal; everything it printed until ``expect`` appeared."""
    from tornado.ioloop import IOLoop
    from tornado.websocket import websocket_connect

    name = requests.post(f"{base}/api/terminals", params={"token": token}, timeout=30).json()["name"]

    async def talk() -> str:
        ws = await websocket_connect(f"{base.replace('http', 'ws')}/terminals/websocket/{name}?token={token}")
        ws.write_message(json.dumps(["stdin", command + "\r"]))
        seen, deadline = "", time.monotonic() + timeout
        while expect not in seen and time.monotonic() < deadline:
            message = await ws.read_message()
            if message is None:
                break
            kind, *payload = json.loads(message)
            if kind == "stdout":
                seen += payload[0]
        ws.close()
        return seen

    return IOLoop.current().run_sync(talk, timeout=timeout + 5)


def test_the_terminal_of_lab_jupyter_has_the_clusters_kubeconfig_and_kubebooks_kubectl(tmp_path: Path) -> None:
    kubectl = built_kubectl()
    if kubectl is None:
        pytest.fail("kubebook's kubectl is not built (make test builds it)")
    data = tmp_path / "data"
    kubeconfig = data / "clusters" / "labjup" / "kubeconfig"
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBEBOOK_KUBECONFIG", "KUBEBOOK_HEADLESS")}
    env.update(KUBEBOOK_DATA_DIR=str(data), JUPYTER_TOKEN=token, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"), SHELL="/bin/sh")
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "kubebook.cli", "lab", "jupyter", "--name", "labjup",
                               "--port", str(port), "--root", str(tmp_path), "--no-browser"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/api/status", params={"token": token}, timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert server.poll() is None, (tmp_path / "lab.log").read_text()[-2000:]
            time.sleep(0.2)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        seen = terminal_output(base, token, 'echo "K=$KUBECONFIG"; echo "C=$(command -v kubectl)"; echo END-$((40+2))',
                               "END-42")
        assert f"K={kubeconfig}" in seen, seen
        assert f"C={kubectl}" in seen, seen
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
