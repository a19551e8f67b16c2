"""Importing kubebook's notebook helpers and views has no side effect: plotly is configured on the first draw.

Before issue 22 ``kubebook.notebook`` configured plotly at import (imported plotly and set its default
renderer), so every module that only wanted ``headless()`` copied it to avoid that cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, sys
import kubebook.notebook, kubebook.views
import kubebook.views.audit, kubebook.views.provision, kubebook.views.reports, kubebook.views.cluster
import kubebook.views.labs
loaded = "plotly" in sys.modules or "plotly.io" in sys.modules
import plotly.io as pio
before = pio.renderers.default
from kubebook.views import cluster
import pandas as pd
cluster.capacity_figure(pd.DataFrame({"name": ["n"], "cpu": [1.0], "cpu_requested": [0.5]}))
print(json.dumps({"loaded": loaded, "before": before, "after": pio.renderers.default}))
"""


def _probe(headless: str) -> dict[str, object]:
    env = {**os.environ, "KUBEBOOK_HEADLESS": headless}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("headless", "renderer"), [("1", "plotly_mimetype+kubebook_offline"),
                                                   ("", "plotly_mimetype")])
def test_importing_the_views_configures_nothing_and_the_first_draw_configures_plotly(headless: str,
                                                                                     renderer: str) -> None:
    found = _probe(headless)
    assert found["loaded"] is False, "importing kubebook.notebook or kubebook.views imported plotly"
    assert "kubebook_offline" not in str(found["before"]), found
    assert found["after"] == renderer, found


def test_one_headless_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubebook import notebook
    from kubebook.views import labs

    assert labs.headless is notebook.headless
    monkeypatch.setenv(notebook.HEADLESS_ENV, "1")
    assert notebook.headless() and notebook.headless(ask_ipython=False)
    monkeypatch.setenv(notebook.HEADLESS_ENV, "0")
    assert notebook.headless(), "plain Python: nobody can press a button"
    assert not notebook.headless(ask_ipython=False), "but the runner did not say headless"


def test_no_module_of_kubebook_reads_the_headless_variable_itself() -> None:
    from pathlib import Path

    lib = Path(__file__).resolve().parents[3] / "lib" / "kubebook"
    readers = sorted(str(p.relative_to(lib)) for p in lib.rglob("*.py")
                     if "environ.get(\"KUBEBOOK_HEADLESS\"" in p.read_text(encoding="utf-8"))
    assert readers == [], readers
