"""``run_notebook``: validate, execute, redact, scan, archive - one headless run, start to finish.

The order is the safety argument. Parameters are validated before a kernel
exists. The executed notebook stays in memory; secret values (secret
parameters plus whatever the kernel registered through the side channel) are
redacted from it before it is serialized; the HTML is rendered from the redacted
notebook; and every artifact's final bytes are scanned before one of them is
written. A hit fails the run as ``leaked`` and sends the artifacts to the
quarantine instead of the archive.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubebook import __version__
from kubebook.archive import Archive, who
from kubebook.archive.store import HTML, NOTEBOOK, RESULTS, new_run_id, runbook_name
from kubebook.errors import ArchiveError, ParameterError
from kubebook.runner import execute as ex
from kubebook.runner.evidence import gather_in_background, render_html
from kubebook.runner.params import (
    load_notebook_json,
    parameter_schema,
    secret_names,
    validate_against_schema,
)
from kubebook.runner.redact import REDACTED, Redactor
from kubebook.secrets import SINK_ENV, read_sink

EXIT_OK = 0
EXIT_CELL_ERROR = 1
EXIT_INVALID_PARAMETERS = 2
EXIT_TIMEOUT = 3
EXIT_KERNEL_DIED = 4
EXIT_LEAKED = 5
LEAKED = "leaked"
EXIT_CODES = {ex.SUCCEEDED: EXIT_OK, ex.FAILED: EXIT_CELL_ERROR, ex.TIMEOUT: EXIT_TIMEOUT,
              ex.KERNEL_DIED: EXIT_KERNEL_DIED, LEAKED: EXIT_LEAKED}


@dataclass
class RunOutcome:
    """The result of one run; ``run_dir`` is the sealed folder (the quarantine folder when leaked)."""

    run_id: str
    status: str
    exit_code: int
    run_dir: Path | None
    started: datetime
    ended: datetime
    error: str | None


def _validated(notebook: Path, parameters: dict[str, Any] | None) -> tuple[dict[str, Any], set[str]]:
    schema = parameter_schema(load_notebook_json(notebook))
    return validate_against_schema(schema, parameters or {}, source=str(notebook)), secret_names(schema)


def _public(parameters: dict[str, Any], secrets: set[str]) -> dict[str, Any]:
    return {k: (REDACTED if k in secrets else v) for k, v in parameters.items()}


def prepare_notebook(notebook: Path, parameters: dict[str, Any] | None, output: Path) -> Path:
    """Validate and inject parameters, then write the notebook unexecuted (``--prepare-only``).

    Secret parameters are written as ``***REDACTED***``: a prepared notebook is a
    file like any other, so it gets their names but not their values.
    """
    effective, secrets = _validated(Path(notebook), parameters)
    import nbformat

    nb = ex.prepare(Path(notebook), effective, str(output))
    nb = Redactor(str(effective[k]) for k in secrets if k in effective).redact(nb)
    Path(output).write_text(nbformat.writes(nb), encoding="utf-8")
    return Path(output)


def _secret_values(effective: dict[str, Any], secrets: set[str], sink: Path) -> list[str]:
    values = [str(effective[name]) for name in secrets if effective.get(name) not in (None, "")]
    return values + read_sink(sink)


def run_notebook(notebook: Path, parameters: dict[str, Any] | None = None, *, archive: Path | None = None,
                 kubeconfig: str | None = None, timeout: float | None = None, cell_timeout: float | None = None,
                 trigger: str = "cli", progress: bool = False, show_code: bool = False) -> RunOutcome:
    """Run ``notebook`` headless with papermill and archive its report; see the module docstring.

    Raises :class:`~kubebook.errors.ParameterError` (nothing started) for invalid
    parameters; every other ending is a :class:`RunOutcome` with an archived report.
    """
    notebook = Path(notebook)
    effective, secrets = _validated(notebook, parameters)
    if kubeconfig and not Path(kubeconfig).expanduser().is_file():
        raise ParameterError(f"--cluster {kubeconfig} is not a file; no kernel was started",
                             hint="pass the path of a kubeconfig")
    store = Archive(archive)
    started = datetime.now(UTC)
    run_id = new_run_id(started)
    runbook = runbook_name(notebook)
    target = kubeconfig or os.environ.get("KUBEBOOK_KUBECONFIG")
    private = Path(tempfile.mkdtemp(prefix="kubebook-run-"))  # 0700, outside the archive
    try:
        env = {SINK_ENV: str(private / "secrets.sink"), "KUBEBOOK_RUN_ID": run_id}
        if kubeconfig:
            env["KUBEBOOK_KUBECONFIG"] = str(Path(kubeconfig).expanduser().resolve())
        nb = ex.prepare(notebook, effective, f"{runbook}/{run_id}/{NOTEBOOK}")
        # Started only now: before this the main thread is importing too, and threads share one GIL.
        evidence = gather_in_background(notebook, target, show_code)
        result = ex.execute(nb, env=env, cwd=notebook.resolve().parent, stdio=private / "kernel.log",
                            timeout=timeout, cell_timeout=cell_timeout, progress=progress)
        ended = datetime.now(UTC)
        redactor = Redactor(_secret_values(effective, secrets, private / "secrets.sink"))
    finally:
        shutil.rmtree(private, ignore_errors=True)  # the sink and kernel log: read, now gone
    found = evidence.result()
    nb = redactor.redact(result.nb)
    error = redactor.redact_text(result.error) if result.error else None
    results = _results(run_id, runbook, notebook, result, error, started, ended, _public(effective, secrets),
                       sorted(secrets), found, trigger)
    artifacts = _serialize(nb, found.exporter, redactor.redact(results))
    leaks = {name: hits for name, data in artifacts.items() if (hits := redactor.scan(data))}
    try:
        if leaks:
            return _quarantine(store, run_id, started, ended, artifacts, leaks, results, redactor)
        folder = store.seal_run(run_id=run_id, runbook=runbook, started=started, ended=ended,
                                status=result.status, exit_code=EXIT_CODES[result.status], trigger=trigger,
                                artifacts=artifacts)
    except OSError as problem:
        raise ArchiveError(f"run {run_id} ({result.status}) could not be archived in {store.root}: {problem}",
                           hint="check that the archive directory is writable") from problem
    return RunOutcome(run_id, result.status, EXIT_CODES[result.status], folder, started, ended, error)


def _results(run_id: str, runbook: str, notebook: Path, result: ex.Execution, error: str | None,
             started: datetime, ended: datetime, parameters: dict[str, Any], secrets: list[str],
             found: Any, trigger: str) -> dict[str, Any]:
    from kubebook.notebook import records_from_notebook

    records = records_from_notebook(result.nb)
    recorded_fp = records.get("cluster_fingerprint")
    return {
        "run_id": run_id, "runbook": runbook, "notebook": str(notebook),
        "status": result.status, "exit_code": EXIT_CODES[result.status], "error": error,
        "stopped_at_cell": None if result.stopped_at is None else result.stopped_at + 1,
        "started": started.isoformat(), "ended": ended.isoformat(),
        "duration_seconds": round((ended - started).total_seconds(), 3),
        "parameters": parameters, "secret_parameters": secrets, "records": records,
        "kubebook_version": __version__, "git_commit": found.git_commit, "git_dirty": found.git_dirty,
        "cluster_fingerprint": recorded_fp if recorded_fp is not None else found.cluster_fingerprint,
        "cluster_fingerprint_source": "recorded" if recorded_fp is not None else (
            "computed" if found.cluster_fingerprint else None),
        "ran_by": who(), "trigger": trigger, "artifacts": [NOTEBOOK, HTML, RESULTS],
    }


def _summary(nb: Any, results: dict[str, Any]) -> str:
    """Markdown that opens the HTML report: what ran, how it ended, with which (redacted) parameters."""
    def cell(value: Any) -> str:
        return html.escape(json.dumps(value, default=str)).replace("|", "&#124;").replace("*", "&#42;")

    title = (nb.metadata.get("kubebook") or {}).get("title") or results["runbook"]
    lines = [f"# {html.escape(str(title))}", "",
             f"**{results['status']}** (exit {results['exit_code']}) · run `{results['run_id']}` · "
             f"started {results['started'][:19].replace('T', ' ')} UTC · {results['duration_seconds']} s · "
             f"{html.escape(results['ran_by'])} via {results['trigger']}",
             "", f"git commit `{results['git_commit'] or 'n/a'}` · "
             f"cluster `{results['cluster_fingerprint'] or 'n/a'}`"]
    if results["parameters"]:
        lines += ["", "| parameter | value |", "|---|---|"]
        lines += [f"| {html.escape(k)} | {cell(v)} |" for k, v in results["parameters"].items()]
    return "\n".join(lines)


def _serialize(nb: Any, exporter: Any, results: dict[str, Any]) -> dict[str, bytes]:
    """The three artifacts' bytes; the HTML alone opens with a summary cell."""
    import nbformat

    notebook = nbformat.writes(nb).encode("utf-8")
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(_summary(nb, results)))
    try:
        report = render_html(exporter, nb)
    finally:
        del nb.cells[0]
    return {NOTEBOOK: notebook, HTML: report, RESULTS: json.dumps(results, indent=1, default=str).encode("utf-8")}


def _quarantine(store: Archive, run_id: str, started: datetime, ended: datetime, artifacts: dict[str, bytes],
                leaks: dict[str, list[str]], results: dict[str, Any], redactor: Redactor) -> RunOutcome:
    summary = "; ".join(f"{name}: {', '.join(hits)}" for name, hits in sorted(leaks.items()))
    error = f"secret values found after redaction, artifacts quarantined, not archived ({summary})"
    report = redactor.redact({**results, "status": LEAKED, "exit_code": EXIT_LEAKED, "error": error,
                              "run_status_before_scan": results["status"], "leaks": leaks})
    artifacts = {**artifacts, "quarantine.json": json.dumps(report, indent=1, default=str).encode("utf-8")}
    folder = store.quarantine(run_id, artifacts)
    return RunOutcome(run_id, LEAKED, EXIT_LEAKED, folder, started, ended, error)
