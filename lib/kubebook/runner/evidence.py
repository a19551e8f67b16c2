"""Everything a run's evidence needs besides the notebook, gathered while the kernel works.

Importing nbconvert and compiling its HTML templates costs more than half a
second, as much as a small notebook's whole execution. The kernel runs in
another process and the runner mostly waits on it, so a background thread
builds and warms the exporter, asks git for the notebook's commit and (when a
kubeconfig was given) fingerprints the cluster in that time; the HTML export
after the run then takes milliseconds.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIT_TIMEOUT = 5.0


@dataclass
class Evidence:
    """What the background thread found; fields are None when not available."""

    exporter: Any
    git_commit: str | None
    git_dirty: bool | None
    cluster_fingerprint: str | None
    fingerprint_error: str | None
    cluster: dict[str, str] | None = None


def html_exporter(show_code: bool = False) -> Any:
    """The report exporter of :mod:`kubebook.views.report` (offline, titled, no prompts), templates compiled."""
    import nbformat

    from kubebook.views.report import html_exporter as report_exporter

    exporter = report_exporter(show_code)
    try:  # compiled templates are kept between processes (Jinja checks each file's checksum)
        from jinja2 import FileSystemBytecodeCache

        exporter.environment.bytecode_cache = FileSystemBytecodeCache()
    except OSError:  # no private cache folder possible: compile every time
        pass
    warm = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("warm-up"),
                                           nbformat.v4.new_code_cell("1")])
    exporter.from_notebook_node(warm)  # compiles the Jinja templates and loads the CSS once
    return exporter


def git_commit(notebook: Path) -> tuple[str | None, bool | None]:
    """The commit checked out in the notebook's repository and whether the notebook differs from it."""
    folder = Path(notebook).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False)
        if head.returncode != 0:
            return None, None
        status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--",
                                 str(Path(notebook).resolve())], capture_output=True, text=True,
                                timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return head.stdout.strip() or None, dirty


def cluster_identity(kubeconfig: str | None, context: str | None = None) -> dict[str, str] | None:
    """``{"name": context, "server": URL}`` of the cluster a notebook connecting with these arguments reaches.

    Resolved in :func:`kubebook.cluster.resolve_kubeconfig`'s order (the argument,
    ``$KUBEBOOK_KUBECONFIG``, the local control plane ``default``, ``$KUBECONFIG``/``~/.kube/config``,
    in-cluster), and read from the kubeconfig file itself, so it is known even when the
    server does not answer. None when no cluster is configured at all.
    """
    from kubebook import yamlload
    from kubebook.cluster import resolve_context, resolve_kubeconfig

    path = resolve_kubeconfig(kubeconfig)
    if path is None:
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        return {"name": "in-cluster", "server": f"https://{host}:{port}"} if host else None
    document = yamlload.load_file(path, f"kubeconfig {path}") or {}
    name = resolve_context(context) or document.get("current-context") or ""
    entry = next((c.get("context") or {} for c in document.get("contexts") or [] if c.get("name") == name), {})
    server = next(((c.get("cluster") or {}).get("server") for c in document.get("clusters") or []
                   if c.get("name") == entry.get("cluster")), None)
    return {k: str(v) for k, v in (("name", name), ("server", server)) if v}


def fingerprint(kubeconfig: str | None, context: str | None = None,
                ) -> tuple[str | None, str | None, dict[str, str] | None]:
    """The cluster's fingerprint (None and the reason when it is not reachable) and its name and server."""
    try:
        identity = cluster_identity(kubeconfig, context)
    except Exception as error:  # an unreadable kubeconfig: evidence says null and why
        return None, f"{type(error).__name__}: {error}", None
    if identity is None:
        return None, None, None
    try:
        from kubebook.cluster import connect

        return connect(kubeconfig, context, timeout_seconds=5).fingerprint(), None, identity
    except Exception as error:  # unreachable or refused: evidence says null and why
        return None, f"{type(error).__name__}: {error}", identity


FINGERPRINT_WAIT = 3.0  # after the run; the query started with it, so this only bounds a black-holed server


class Gathering:
    """The background work of one run; :meth:`result` collects it once the kernel has finished."""

    def __init__(self, notebook: Path, kubeconfig: str | None, show_code: bool, context: str | None = None) -> None:
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kubebook-evidence")
        self._report: Future[tuple[Any, str | None, bool | None]] = pool.submit(
            lambda: (html_exporter(show_code), *git_commit(notebook)))
        self._fingerprint: Future[tuple[str | None, str | None, dict[str, str] | None]] = pool.submit(
            fingerprint, kubeconfig, context)
        pool.shutdown(wait=False)

    def result(self) -> Evidence:
        exporter, commit, dirty = self._report.result()
        try:
            fp, fp_error, identity = self._fingerprint.result(timeout=FINGERPRINT_WAIT)
        except FutureTimeout:
            fp, fp_error, identity = (None, f"the API server did not answer within {FINGERPRINT_WAIT:g} s of the "
                                            "run's end", None)
        return Evidence(exporter, commit, dirty, fp, fp_error, identity)


def gather_in_background(notebook: Path, kubeconfig: str | None, show_code: bool = False,
                         context: str | None = None) -> Gathering:
    """Start gathering; ``.result()`` after the kernel finished."""
    return Gathering(notebook, kubeconfig, show_code, context)


def render_html(exporter: Any, nb: Any) -> bytes:
    """The self-contained HTML report of an (already redacted) executed notebook."""
    body, _ = exporter.from_notebook_node(nb)
    return body.encode("utf-8")
