"""Health probes of the local control plane's components, over mTLS where the component wants it."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import requests
import urllib3

from kubebook.errors import LocalClusterError


def _get(url: str, verify: str | bool, cert: tuple[str, str] | None, timeout: float = 2.0) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            response = requests.get(url, verify=verify, cert=cert, timeout=timeout)
    except requests.RequestException:
        return False
    return response.status_code == 200


def etcd_healthy(pki: Path, client_url: str) -> bool:
    cert = (str(pki / "etcd-healthcheck-client.crt"), str(pki / "etcd-healthcheck-client.key"))
    return _get(f"{client_url}/health", str(pki / "etcd-ca.crt"), cert)


def apiserver_ready(pki: Path, url: str) -> bool:
    cert = (str(pki / "super-admin.crt"), str(pki / "super-admin.key"))
    return _get(f"{url}/readyz", str(pki / "ca.crt"), cert)


# Resources whose watch caches every client of the local cluster touches first.
STORAGE_PROBES = ("namespaces", "configmaps", "secrets", "serviceaccounts", "services", "pods", "nodes")


def storage_ready(pki: Path, url: str) -> bool:
    """True when lists of the common resources are served (not 429 "storage is (re)initializing")."""
    cert = (str(pki / "super-admin.crt"), str(pki / "super-admin.key"))
    return all(_get(f"{url}/api/v1/{plural}?limit=1&resourceVersion=0", str(pki / "ca.crt"), cert)
               for plural in STORAGE_PROBES)


def serving_healthy(host: str, port: int) -> bool:
    """controller-manager and scheduler serve /healthz with a self-signed cert; /healthz needs no auth."""
    return _get(f"https://{host}:{port}/healthz", False, None)


def wait_for(what: str, probe: Callable[[], bool], timeout: float, alive: Callable[[], bool] | None = None,
             log: Path | None = None) -> None:
    """Poll ``probe`` until it holds; fail early if the process died, with its log tail."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if probe():
            return
        if alive is not None and not alive():
            raise LocalClusterError(f"{what} exited during start-up", hint=_log_hint(log))
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    raise LocalClusterError(f"{what} did not become healthy within {timeout:.0f}s", hint=_log_hint(log))


def _log_hint(log: Path | None) -> str:
    if log is None:
        return "see the component logs with 'kubebook cluster logs'"
    from kubebook.localcluster.processes import tail

    last = tail(log, 5).replace("\n", " | ")
    return f"log {log}: {last[-600:]}"
