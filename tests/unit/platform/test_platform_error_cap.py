"""An exception with a huge message no longer bypasses the output cap (issue: 100 MB -> 601 MB sealed run)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from kubebook.runner import EXIT_CELL_ERROR, run_notebook
from kubebook.runner.outputcap import ERROR_MESSAGE_MAX, ERROR_NAME_MAX, ERROR_TRACEBACK_MAX, clip_error

HUGE = 20 * 1024 * 1024


def failing_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("size = 0  # message size")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("raise RuntimeError('start ' + 'A' * size + ' the end')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kubebook"] = {"title": "huge", "description": "d", "category": "test", "risk": "readonly",
                               "rbac": [], "parameters": {"type": "object",
                                                          "properties": {"size": {"type": "integer"}}}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "huge.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_20_mb_exception_message_is_clipped_in_the_report_banner_and_results(tmp_path: Path) -> None:
    outcome = run_notebook(failing_notebook(tmp_path / "nb"), {"size": HUGE}, archive=tmp_path / "archive",
                           progress=False)
    assert (outcome.status, outcome.exit_code) == ("failed", EXIT_CELL_ERROR)
    assert outcome.run_dir is not None
    sizes = {p.name: p.stat().st_size for p in outcome.run_dir.iterdir()}
    assert sum(sizes.values()) < 1024 * 1024, sizes
    assert len(outcome.error or "") < 2 * ERROR_MESSAGE_MAX
    assert "RuntimeError: start AAAA" in (outcome.error or "") and "the end" in (outcome.error or "")
    nb = json.loads((outcome.run_dir / "notebook.ipynb").read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "RuntimeError"
    assert "characters of this error were dropped" in errors[0]["evalue"]
    results = json.loads((outcome.run_dir / "results.json").read_text())
    assert results["status"] == "failed" and len(results["error"]) < 2 * ERROR_MESSAGE_MAX


def test_clipping_keeps_small_errors_as_they_are_and_bounds_every_part() -> None:
    small = {"ename": "ValueError", "evalue": "bad", "traceback": ["frame 1", "ValueError: bad"]}
    assert clip_error(dict(small)) == small
    big = {"ename": "E" * 10_000, "evalue": "v" * 10_000_000,
           "traceback": ["f" * 100_000 for _ in range(1000)] + ["E: tail"]}
    clipped = clip_error(big)
    assert len(clipped["evalue"]) <= ERROR_MESSAGE_MAX + 200 and len(clipped["ename"]) <= ERROR_NAME_MAX + 100
    assert sum(map(len, clipped["traceback"])) <= ERROR_TRACEBACK_MAX + 1000
    assert clipped["traceback"][-1] == "E: tail"
