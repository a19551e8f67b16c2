"""``run_notebook``: validate, execute, redact, scan, archive - one headless run, start to finish.

The order is the safety argument. Parameters are validated before a kernel
exists. The executed notebook stays in memory; its injected-parameters cell is
rendered again from the public parameters, then secret values (secret
parameters, each leaf of a non-string one, plus whatever the kernel registered
through the side channel) are redacted in every form the runner or a display
writes them (see :mod:`kubebook.runner.redact`) before it is serialized; the HTML
is rendered from the redacted notebook; and every artifact's final bytes, shared
assets included, are scanned before one of them is written. A hit fails the run
as ``leaked`` and sends the artifacts to the quarantine instead of the archive.

SIGTERM or SIGINT during a run kills the kernel; the run is archived as
``interrupted`` (exit 128 + the signal) and the private temporary folder (secret
sink, kernel log) is removed as on every other path.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubebook import __version__
from kubebook.archive import Archive, notebook_identity, who
from kubebook.archive.store import HTML, NOTEBOOK, RESULTS, new_run_id, runbook_name
from kubebook.errors import ArchiveError, ParameterError
from kubebook.runner import execute as ex
from kubebook.runner.artifacts import finite, inline, rerender_parameters, serialize
from kubebook.runner.evidence import gather_in_background
from kubebook.runner.interrupt import stop_on_signals
from kubebook.runner.kernel import KernelWatch
from kubebook.runner.outputcap import configured_cap
from kubebook.runner.params import (
    load_notebook_json,
    parameter_schema,
    secret_names,
    validate_against_schema,
)
from kubebook.runner.redact import REDACTED, Redactor
from kubebook.runner.secretdiffs import artifact_findings
from kubebook.secrets import SINK_ENV, read_sink

EXIT_OK = 0
EXIT_CELL_ERROR = 1
EXIT_INVALID_PARAMETERS = 2
EXIT_TIMEOUT = 3
EXIT_KERNEL_DIED = 4
EXIT_LEAKED = 5
EXIT_INTERRUPTED = 130  # 128 + SIGINT; a SIGTERM run exits 143
LEAKED = "leaked"
EXIT_CODES = {ex.SUCCEEDED: EXIT_OK, ex.FAILED: EXIT_CELL_ERROR, ex.TIMEOUT: EXIT_TIMEOUT,
              ex.KERNEL_DIED: EXIT_KERNEL_DIED, LEAKED: EXIT_LEAKED, ex.INTERRUPTED: EXIT_INTERRUPTED}
HEADLESS_ENV = "KUBEBOOK_HEADLESS"


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


def _validated(notebook: Path, parameters: dict[str, Any] | None) -> tuple[dict[str, Any], set[str], dict[str, Any]]:
    nb = load_notebook_json(notebook)
    schema = parameter_schema(nb)
    return validate_against_schema(schema, parameters or {}, source=str(notebook)), secret_names(schema), nb


def _public(parameters: dict[str, Any], secrets: set[str]) -> dict[str, Any]:
    return {k: (REDACTED if k in secrets else v) for k, v in parameters.items()}


def prepare_notebook(notebook: Path, parameters: dict[str, Any] | None, output: Path) -> Path:
    """Validate and inject parameters, then write the notebook unexecuted (``--prepare-only``).

    Secret parameters are injected as ``***REDACTED***``: a prepared notebook is a
    file like any other, so it gets their names but never their values, in any form.
    """
    effective, secrets, _ = _validated(Path(notebook), parameters)
    import nbformat

    nb = ex.prepare(Path(notebook), _public(effective, secrets), str(output))
    nb = Redactor(effective[k] for k in secrets if k in effective).redact(nb)
    try:
        Path(output).write_text(nbformat.writes(finite(nb)), encoding="utf-8")
    except OSError as error:
        raise ParameterError(f"cannot write {output}: {error.strerror}", hint="pass -o FILE in a writable folder") \
            from error
    return Path(output)


def _text_parameter(effective: dict[str, Any], secrets: set[str], name: str) -> str | None:
    value = effective.get(name)
    return value if isinstance(value, str) and value and name not in secrets else None


def _secret_values(effective: dict[str, Any], secrets: set[str], sink: Path) -> list[Any]:
    values: list[Any] = [effective[name] for name in secrets if effective.get(name) not in (None, "")]
    return values + read_sink(sink)


def run_notebook(notebook: Path, parameters: dict[str, Any] | None = None, *, archive: Path | None = None,
                 kubeconfig: str | None = None, timeout: float | None = None, cell_timeout: float | None = None,
                 trigger: str = "cli", progress: bool = False, show_code: bool = False,
                 output_cap: int | str | None = None) -> RunOutcome:
    """Run ``notebook`` headless with papermill and archive its report; see the module docstring.

    Raises :class:`~kubebook.errors.ParameterError` (nothing started) for invalid
    parameters; every other ending is a :class:`RunOutcome` with an archived report.
    """
    notebook = Path(notebook)
    effective, secrets, source = _validated(notebook, parameters)
    cap = configured_cap(output_cap)
    if kubeconfig and not Path(kubeconfig).expanduser().is_file():
        raise ParameterError(f"--kubeconfig {kubeconfig} is not a file; no kernel was started",
                             hint="pass the path of a kubeconfig")
    store = Archive(archive)
    started = datetime.now(UTC)
    run_id = new_run_id(started)
    runbook = runbook_name(notebook)
    identity = notebook_identity(notebook, source)
    # The cluster the notebook connects to: its own kubeconfig/context parameters win, as in cluster.connect.
    own = _text_parameter(effective, secrets, "kubeconfig")  # relative to the kernel's folder, the notebook's
    target = (str(notebook.resolve().parent / Path(own).expanduser()) if own else None) or kubeconfig \
        or os.environ.get("KUBEBOOK_KUBECONFIG")
    context = _text_parameter(effective, secrets, "context")
    watch = KernelWatch()
    with stop_on_signals(watch):
        private = Path(tempfile.mkdtemp(prefix="kubebook-run-"))  # 0700, outside the archive
        try:
            env = {SINK_ENV: str(private / "secrets.sink"), "KUBEBOOK_RUN_ID": run_id,
                   "KUBEBOOK_ARCHIVE": str(store.root), HEADLESS_ENV: "1"}
            if kubeconfig:
                env["KUBEBOOK_KUBECONFIG"] = str(Path(kubeconfig).expanduser().resolve())
            nb = ex.prepare(notebook, effective, f"{runbook}/{run_id}/{NOTEBOOK}")
            # Started only now: before this the main thread is importing too, and threads share one GIL.
            evidence = gather_in_background(notebook, target, show_code, context)
            result = ex.execute(nb, env=env, cwd=notebook.resolve().parent, stdio=private / "kernel.log",
                                timeout=timeout, cell_timeout=cell_timeout, progress=progress, output_cap=cap,
                                watch=watch)
            ended = datetime.now(UTC)
            redactor = Redactor(_secret_values(effective, secrets, private / "secrets.sink"))
        finally:
            shutil.rmtree(private, ignore_errors=True)  # the sink and kernel log: read, now gone
        return _archive(store, notebook, identity, run_id, runbook, started, ended, result, redactor,
                        _public(effective, secrets), sorted(secrets), evidence.result(), trigger)


def _archive(store: Archive, notebook: Path, identity: str, run_id: str, runbook: str, started: datetime,
             ended: datetime, result: ex.Execution, redactor: Redactor, public: dict[str, Any],
             secrets: list[str], found: Any, trigger: str) -> RunOutcome:
    """Redact, serialize, scan and archive (or quarantine) one executed run."""
    exit_code = 128 + result.signal if result.signal else EXIT_CODES[result.status]
    rerender_parameters(result.nb, public)
    nb = finite(redactor.redact(result.nb))
    error = redactor.redact_text(result.error) if result.error else None
    results = _results(run_id, runbook, identity, notebook, result, error, started, ended, public, secrets, found,
                       trigger, exit_code)
    artifacts, stored = serialize(nb, found.exporter, redactor.redact(results))
    leaks = {name: hits for name, data in {**artifacts, **stored}.items() if (hits := redactor.scan(data))}
    for name, hits in artifact_findings(artifacts).items():  # Secret values nobody registered, shown in a diff
        leaks[name] = sorted({*leaks.get(name, []), *hits})
    try:
        if leaks:
            return _quarantine(store, run_id, started, ended, inline(artifacts, stored), leaks, results, redactor)
        folder = store.seal_run(run_id=run_id, runbook=runbook, started=started, ended=ended,
                                status=result.status, exit_code=exit_code, trigger=trigger,
                                artifacts=artifacts, notebook=identity, assets=stored)
    except OSError as problem:
        raise ArchiveError(f"run {run_id} ({result.status}) could not be archived in {store.root}: "
                           f"{problem.strerror or problem}",
                           hint="check that the archive directory is writable and has free space") from problem
    return RunOutcome(run_id, result.status, exit_code, folder, started, ended, error)


def _results(run_id: str, runbook: str, identity: str, notebook: Path, result: ex.Execution, error: str | None,
             started: datetime, ended: datetime, parameters: dict[str, Any], secrets: list[str],
             found: Any, trigger: str, exit_code: int) -> dict[str, Any]:
    from kubebook.notebook import records_from_notebook

    records = records_from_notebook(result.nb)
    recorded_fp = records.get("cluster_fingerprint")
    return {
        "run_id": run_id, "runbook": runbook, "notebook": str(notebook), "notebook_id": identity,
        "status": result.status, "exit_code": exit_code, "error": error,
        "stopped_at_cell": None if result.stopped_at is None else result.stopped_at + 1,
        "started": started.isoformat(), "ended": ended.isoformat(),
        "duration_seconds": round((ended - started).total_seconds(), 3),
        "parameters": parameters, "secret_parameters": secrets, "records": records,
        "output_truncated": result.output_truncated,
        "kubebook_version": __version__, "git_commit": found.git_commit, "git_dirty": found.git_dirty,
        "cluster": found.cluster,
        "cluster_fingerprint": recorded_fp if recorded_fp is not None else found.cluster_fingerprint,
        "cluster_fingerprint_source": "recorded" if recorded_fp is not None else (
            "computed" if found.cluster_fingerprint else None),
        "ran_by": who(), "trigger": trigger, "artifacts": [NOTEBOOK, HTML, RESULTS],
    }


def _quarantine(store: Archive, run_id: str, started: datetime, ended: datetime, artifacts: dict[str, bytes],
                leaks: dict[str, list[str]], results: dict[str, Any], redactor: Redactor) -> RunOutcome:
    summary = "; ".join(f"{name}: {', '.join(hits)}" for name, hits in sorted(leaks.items()))
    error = f"secret values found after redaction, artifacts quarantined, not archived ({summary})"
    report = redactor.redact({**results, "status": LEAKED, "exit_code": EXIT_LEAKED, "error": error,
                              "run_status_before_scan": results["status"], "leaks": leaks})
    body = json.dumps(finite(report), indent=1, default=str, allow_nan=False).encode("utf-8")
    folder = store.quarantine(run_id, {**artifacts, "quarantine.json": body})
    return RunOutcome(run_id, LEAKED, EXIT_LEAKED, folder, started, ended, error)
