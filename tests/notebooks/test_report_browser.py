"""notebooks/report-browser.ipynb executed with papermill on a real archive and on a missing one."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import nbformat
import numpy
import papermill
import pytest

from kubebook.notebook import records_from_notebook
from kubebook.runner import run_notebook

ROOT = Path(__file__).resolve().parents[2]
BROWSER = ROOT / "notebooks" / "report-browser.ipynb"
SUITE = ROOT / "benchmarks" / "fixtures" / "suite"


def execute(tmp_path: Path, **parameters: Any) -> nbformat.NotebookNode:
    out = tmp_path / "browser-out.ipynb"
    papermill.execute_notebook(str(BROWSER), str(out), parameters=parameters, progress_bar=False,
                               cwd=str(BROWSER.parent))
    return nbformat.read(out, as_version=4)


def values(data: Any) -> list[Any]:
    """A plotly JSON array: a plain list, or (plotly >= 6) a base64 typed array."""
    if isinstance(data, dict) and "bdata" in data:
        return list(numpy.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]))
    return list(data)


def outputs(nb: nbformat.NotebookNode, mime: str) -> list[Any]:
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if mime in o.get("data", {})]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real runs of fixture notebooks: two scores with different parameters, one checksum."""
    root = tmp_path_factory.mktemp("archive") / "reports"
    for notebook, parameters in ((SUITE / "07-score.ipynb", {"checks": 7}),
                                 (SUITE / "07-score.ipynb", {"checks": 120}),
                                 (SUITE / "01-checksums.ipynb", {})):
        assert run_notebook(notebook, parameters, archive=root).status == "succeeded"
    return root


def test_the_browser_shows_runs_metrics_and_links_of_a_real_archive(archive: Path, tmp_path: Path) -> None:
    nb = execute(tmp_path, archive=str(archive))
    records = records_from_notebook(nb)
    assert records["runs"] == 3 and records["runs_not_succeeded"] == 0
    # 07-score records score; 01-checksums records blocks (its digest is text, not a metric).
    assert records["metric_series"] == 2
    markdown = "\n".join(outputs(nb, "text/markdown"))
    assert "**3 run(s)** of 2 runbook(s)" in markdown
    figures = outputs(nb, "application/vnd.plotly.v1+json")
    assert len(figures) == 2, "runs over time and metric trends"
    trend_titles = sorted(a["text"] for a in figures[1]["layout"]["annotations"])
    assert trend_titles == ["01-checksums · blocks", "07-score · score"]
    scores = sorted(float(y) for trace in figures[1]["data"] if "07-score · score" in trace["hovertemplate"]
                    for y in values(trace["y"]))
    assert scores == [71, 80], "5 of 7 checks pass (71) in one run, 96 of 120 (80) in the other"
    html = "\n".join(outputs(nb, "text/html"))
    assert html.count('/report.html" target="_blank"') == 3


def test_the_browser_says_so_when_the_archive_is_missing(tmp_path: Path) -> None:
    nb = execute(tmp_path, archive=str(tmp_path / "no-archive-here"))
    assert records_from_notebook(nb)["runs"] == 0
    markdown = "\n".join(outputs(nb, "text/markdown"))
    assert "**No runs archived yet**" in markdown
    assert not outputs(nb, "application/vnd.plotly.v1+json")
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
