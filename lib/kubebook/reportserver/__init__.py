"""Archived reports opened from JupyterLab in a browser tab, charts drawn: a small Jupyter server extension.

Both ends of one agreement live here. The server side
(:func:`_load_jupyter_server_extension`, enabled for every ``jupyter lab`` of the
environment kubebook is installed in by ``jupyter-config/jupyter_server_config.d/
kubebook.json``) adds an authenticated ``GET {base_url}kubebook/report?path=...``
that sends one sealed report as a self-contained page (:mod:`.page`), and
exports :data:`SERVER_ENV` (its pid and that URL, no token) into its own
environment, which every kernel it starts inherits. The kernel side
(:func:`link_prefix`) uses the URL only when its parent process is that server:
a headless kernel (papermill under ``kubebook run``, even started from a
JupyterLab terminal) gets None and keeps file-relative links, which work in an
archived report opened from disk.

The link is root-relative (``/…``): JupyterLab treats such a link as not its own
and opens it in a new browser tab, where the server's cookie authenticates it; the
token is never written anywhere. This module imports nothing heavy: kernels read it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROUTE = "kubebook/report"
SERVER_ENV = "KUBEBOOK_REPORT_SERVER"


def link_prefix() -> str | None:
    """The report URL of the Jupyter server that started this kernel (``/base/kubebook/report``), else None."""
    try:
        server = json.loads(os.environ.get(SERVER_ENV, ""))
    except ValueError:
        return None
    if not isinstance(server, dict) or server.get("pid") != os.getppid():
        return None
    url = server.get("url")
    return url if isinstance(url, str) and url.startswith("/") and not url.startswith("//") else None


def report_url(prefix: str, report: Path | str) -> str:
    """The server link to one report: ``prefix?path=<absolute path, percent-encoded>``."""
    return f"{prefix}?path={quote(str(Path(report).absolute()), safe='/')}"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "kubebook.reportserver"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    from kubebook.reportserver.handler import ReportHandler

    url = url_path_join(serverapp.base_url, ROUTE)
    serverapp.web_app.add_handlers(".*$", [(url, ReportHandler)])
    os.environ[SERVER_ENV] = json.dumps({"pid": os.getpid(), "url": url})
    serverapp.log.info("kubebook: archived reports are served at %s?path=<report.html>", url)
