"""Execute a parameterized notebook with papermill and say how it ended.

papermill does the work (parameter injection, per-cell metadata, progress bar,
nbclient execution). Two things are added: the notebook is kept in memory
rather than re-written after every cell (the archive writes it once, redacted),
and every way a run can stop - a cell error, a cell or whole-run timeout, a dead
kernel - is classified and marked in the notebook with papermill's own error
banner, so the archived report shows where the run stopped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebook.errors import ParameterError
from kubebook.runner.kernel import KernelWatch, kernel_manager_class

SUCCEEDED, FAILED, TIMEOUT, KERNEL_DIED = "succeeded", "failed", "timeout", "kernel_died"
INTERRUPTED = "interrupted"
KERNEL_START_TIMEOUT = 60


@dataclass
class Execution:
    """How a run ended: the executed notebook, a status, a message and the cell it stopped at."""

    nb: Any
    status: str
    error: str | None = None
    stopped_at: int | None = None
    signal: int | None = None
    output_truncated: bool = False


def prepare(notebook: Path, parameters: dict[str, Any], output_label: str) -> Any:
    """Load ``notebook`` and inject ``parameters`` after its ``parameters`` cell, as papermill does."""
    from papermill.execute import prepare_notebook_metadata, remove_error_markers
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    from papermill.utils import nb_kernel_name

    nb = load_notebook_node(str(notebook))
    try:
        nb_kernel_name(nb)
    except ValueError as error:
        raise ParameterError(f"{notebook} names no kernel; nothing was started",
                             hint="pick a kernel in Jupyter and save, or set metadata.kernelspec.name") from error
    if parameters:
        nb = parameterize_notebook(nb, parameters, report_mode=False)
    nb = prepare_notebook_metadata(nb, str(notebook), output_label)
    return remove_error_markers(nb)


def _last_started(nb: Any) -> int | None:
    """The index of the last cell papermill started: where a killed or timed-out run stopped."""
    index = None
    for i, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("start_time"):
            index = i
    return index


def _first_error(nb: Any) -> tuple[int, str] | None:
    """papermill's rule: the first error output (a clean SystemExit excepted) or failed cell."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) or []:
            if output.get("output_type") == "error":
                if output.get("ename") == "SystemExit" and output.get("evalue") in ("", "0"):
                    continue
                return index, f"{output.get('ename')}: {output.get('evalue')}"
        if cell.get("metadata", {}).get("papermill", {}).get("exception") is True:
            return index, "the cell raised an exception"
    return None


def cell_name(nb: Any, index: int) -> str:
    """How a reader finds cell ``index`` in the archived report, which shows no In [n] prompts.

    Code cells are counted as the report numbers its steps (markdown between them does not
    count), and the first line of the cell's source is quoted so the name survives edits.
    """
    cell = nb.cells[index]
    if cell.get("cell_type") != "code":
        return f"cell {index + 1}"
    number = sum(1 for c in nb.cells[: index + 1] if c.get("cell_type") == "code")
    first = next((line.strip() for line in str(cell.get("source", "")).splitlines() if line.strip()), "")
    return f"code cell {number}" + (f" ({first[:60]}{'...' if len(first) > 60 else ''})" if first else "")


def mark_stop(nb: Any, index: int, headline: str, detail: str) -> Any:
    """Insert papermill's banner (top) and anchor (before cell ``index``), adding the cell's source.

    The archived HTML hides code, so the anchor repeats the failing cell's source.
    """
    import nbformat
    from papermill.execute import ERROR_ANCHOR_MSG, ERROR_MARKER_TAG, ERROR_STYLE

    cell = nb.cells[index]
    meta = cell.metadata.setdefault("papermill", {})
    meta["exception"], meta["status"] = True, "failed"
    nb.metadata.setdefault("papermill", {})["exception"] = True
    where = cell_name(nb, index)
    banner = nbformat.v4.new_markdown_cell(
        f"## <span {ERROR_STYLE}>{html.escape(headline)} at '<a href=\"#papermill-error-cell\">{where}</a>'."
        f"</span>\n\n{html.escape(detail)}")
    source = cell.source if cell.cell_type == "code" else ""
    anchor = nbformat.v4.new_markdown_cell(ERROR_ANCHOR_MSG + (f"\n\n```python\n{source}\n```" if source else ""))
    for new in (banner, anchor):
        new.metadata["tags"] = [ERROR_MARKER_TAG]
    nb = nbformat.v4.upgrade(nb) or nb
    nb.cells.insert(index, anchor)
    nb.cells.insert(0, banner)
    return nb


def execute(nb: Any, *, env: dict[str, str], cwd: Path, stdio: Path, timeout: float | None,
            cell_timeout: float | None, progress: bool, output_cap: int = 0,
            watch: KernelWatch | None = None) -> Execution:
    """Run every cell of ``nb`` (mutated in place) in a fresh kernel; never raises for a failed run.

    ``watch`` lets the caller stop the run from outside (a signal); ``output_cap``
    bounds the bytes of output kept (0: no cap).
    """
    from papermill.utils import nb_kernel_name

    from kubebook.runner.outputcap import capped_engine

    watch = watch or KernelWatch()
    engine, client = capped_engine(output_cap)
    km_class = kernel_manager_class(env, cwd, stdio, watch)
    watch.arm(timeout)
    failure: BaseException | None = None
    try:
        engine.execute_notebook(
            nb, nb_kernel_name(nb), output_path=None, progress_bar=progress, log_output=False,
            autosave_cell_every=0, start_timeout=KERNEL_START_TIMEOUT, execution_timeout=cell_timeout,
            kernel_manager_class=km_class, shutdown_kernel="immediate")
    except Exception as error:  # every way nbclient can stop is classified below
        failure = error
    finally:
        watch.disarm()
    result = _classify(nb, watch, failure, timeout, cell_timeout, stdio)
    result.output_truncated = bool(client.truncated)
    return result


def _classify(nb: Any, watch: KernelWatch, failure: BaseException | None, timeout: float | None,
              cell_timeout: float | None, stdio: Path) -> Execution:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from kubebook.runner.outputcap import ERROR_MESSAGE_MAX, clip_text

    stopped = _last_started(nb)
    if watch.interrupted:
        name = _signal_name(watch.interrupted)
        detail = f"the runner received {name}; the kernel was killed and this report archived"
        result = _stopped(nb, INTERRUPTED, "The run was interrupted", detail, stopped)
        result.signal = watch.interrupted
        return result
    if watch.expired.is_set():
        detail = f"the whole run exceeded --timeout {timeout:g} s; the kernel was killed"
        return _stopped(nb, TIMEOUT, "The run timed out", detail, stopped)
    if isinstance(failure, CellTimeoutError):
        detail = f"the cell ran longer than --cell-timeout {cell_timeout:g} s"
        return _stopped(nb, TIMEOUT, "A cell timed out", detail, stopped)
    if isinstance(failure, DeadKernelError):
        detail = "the kernel process died (killed, crashed or out of memory)" + _kernel_tail(stdio)
        return _stopped(nb, KERNEL_DIED, "The kernel died", detail, stopped)
    if failure is not None and stopped is None:
        return Execution(nb, KERNEL_DIED, f"the kernel did not start: {clip_text(str(failure), ERROR_MESSAGE_MAX)}",
                         None)
    found = _first_error(nb)
    if found is not None:
        index, message = found
        where = cell_name(nb, index)
        nb = mark_stop(nb, index, "An Exception was encountered", message)
        return Execution(nb, FAILED, f"{where} failed: {message}", index)
    if failure is not None:
        return _stopped(nb, FAILED, "The run failed",
                        f"{type(failure).__name__}: {clip_text(str(failure), ERROR_MESSAGE_MAX)}", stopped)
    return Execution(nb, SUCCEEDED)


def _stopped(nb: Any, status: str, headline: str, detail: str, index: int | None) -> Execution:
    if index is not None:
        detail = f"{detail} (stopped at {cell_name(nb, index)})"
        nb = mark_stop(nb, index, headline, detail)
    return Execution(nb, status, f"{headline.lower()}: {detail}", index)


def _signal_name(signum: int) -> str:
    import signal

    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _kernel_tail(stdio: Path, lines: int = 5) -> str:
    """The last lines the kernel process printed outside of cells (redacted later with the rest)."""
    try:
        text = stdio.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    interesting = [ln for ln in text.splitlines() if "without encryption" not in ln][-lines:]
    return ("; kernel output: " + " | ".join(interesting)) if interesting else ""
