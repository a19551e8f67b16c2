"""schedules.yaml validation: every mistake listed at once, each naming the schedule and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from test_conventions import good_notebook

from kubebook.errors import ParameterError
from kubebook.schedule.model import find_schedule, load_schedules

ROOT = Path(__file__).resolve().parents[3]


def kubebook_notebook(path: Path) -> Path:
    """The conventions test's good notebook plus an integer parameter with a minimum."""
    nb = good_notebook()
    nb.cells[0].source += "\nlimit = 10  # how many"
    nb.metadata["kubebook"]["parameters"]["additionalProperties"] = False
    nb.metadata["kubebook"]["parameters"]["properties"]["limit"] = {"type": "integer", "minimum": 1}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def write(tmp_path: Path, document: Any) -> Path:
    kubebook_notebook(tmp_path / "runbooks" / "good.ipynb")
    path = tmp_path / "scheduled" / "schedules.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document) if not isinstance(document, str) else document)
    return path


def problems(tmp_path: Path, document: Any) -> list[str]:
    with pytest.raises(ParameterError) as error:
        load_schedules(write(tmp_path, document))
    assert error.value.exit_code == 2
    assert f"has {len(error.value.problems)} mistake(s); nothing was run" in error.value.message
    return error.value.problems


def entry(**fields: Any) -> dict[str, Any]:
    return {"name": "nightly", "notebook": "../runbooks/good.ipynb", "cron": "0 3 * * *", **fields}


def test_a_valid_file_loads_with_defaults_applied_and_paths_resolved(tmp_path: Path) -> None:
    path = write(tmp_path, {"version": 1, "defaults": {"retries": 2, "timeout": 900},
                            "schedules": [entry(parameters={"limit": 5}),
                                          entry(name="hourly", cron="@hourly", retries=0, enabled=False)]})
    nightly, hourly = load_schedules(path)
    assert nightly.notebook == (tmp_path / "runbooks" / "good.ipynb").resolve()
    assert (nightly.retries, nightly.timeout, nightly.parameters) == (2, 900, {"limit": 5})
    assert nightly.concurrency_policy == "Forbid"
    assert (hourly.retries, hourly.enabled, hourly.cron_expression) == (0, False, "0 * * * *")
    assert find_schedule([nightly, hourly], "hourly") is hourly


def test_every_mistake_is_listed_at_once_naming_schedule_and_field(tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir(parents=True, exist_ok=True)
    (tmp_path / "runbooks" / "plain.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    found = problems(tmp_path, {"schedules": [
        entry(name="bad-cron", cron="61 * * * *"),
        entry(name="six-fields", cron="0 0 3 * * *"),
        entry(name="no-notebook", notebook="../runbooks/missing.ipynb"),
        entry(name="plain", notebook="../runbooks/plain.ipynb"),
        entry(name="bad-params", parameters={"limit": 0, "namspace": "x"}),
        entry(name="typo", retrys=3),
        entry(name="replace", concurrency_policy="Replace"),
        entry(name="bad-notify", notify={"statuses": ["failed"]}),
        entry(name="cells", timeout=60, cell_timeout=120),
        entry(name="Bad_Name"),
        {"name": "incomplete", "notebook": "../runbooks/good.ipynb"},
    ]})
    expected = {
        "bad-cron": ("cron", "'61 * * * *' is not a valid cron expression"),
        "six-fields": ("cron", "has 6 fields; use 5"),
        "no-notebook": ("notebook", "missing.ipynb does not exist"),
        "plain": ("notebook", "not a kubebook notebook"),
        "typo": ("retrys", "did you mean 'retries'?"),
        "replace": ("concurrency_policy", "'Replace' is not supported"),
        "bad-notify": ("notify", "exactly one of 'url' or 'url_env'"),
        "cells": ("cell_timeout", "exceeds the run's timeout"),
        "Bad_Name": ("name", "lower-case letters"),
        "incomplete": ("cron", "is required"),
    }
    for name, (field, text) in expected.items():
        assert any(f"schedule '{name}'" in p and f"field '{field}'" in p and text in p for p in found), \
            f"no problem about {name}/{field} ({text}) in:\n" + "\n".join(found)
    bad_params = [p for p in found if "schedule 'bad-params'" in p]
    assert all("field 'parameters'" in p for p in bad_params)
    assert any("limit" in p for p in bad_params) and any("namspace" in p for p in bad_params)


def test_duplicate_names_are_named_with_both_entries(tmp_path: Path) -> None:
    found = problems(tmp_path, {"schedules": [entry(), entry(cron="@daily")]})
    assert found == ["schedule 'nightly' (entry 2), field 'name': 'nightly' is already used by entry 1; "
                     "names must be unique"]


def test_a_mistake_in_defaults_is_named_once_under_defaults(tmp_path: Path) -> None:
    found = problems(tmp_path, {"defaults": {"retries": -1}, "schedules": [entry()]})
    assert len(found) == 1 and found[0].startswith("defaults, field 'retries'")


def test_an_unknown_top_level_key_and_a_missing_schedules_list_are_named(tmp_path: Path) -> None:
    found = problems(tmp_path, {"schedule": []})
    assert any("field 'schedules': is required" in p for p in found)
    assert any("field 'schedule': unknown field (did you mean 'schedules'?)" in p for p in found)


def test_broken_yaml_says_where(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"(?s)is not valid YAML.*line 2"):
        load_schedules(write(tmp_path, "schedules:\n  - name: [unclosed\n"))


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"does not exist.*scheduled/README\.md"):
        load_schedules(tmp_path / "nope.yaml")


def test_an_unknown_schedule_name_suggests_the_closest(tmp_path: Path) -> None:
    schedules = load_schedules(write(tmp_path, {"schedules": [entry()]}))
    with pytest.raises(ParameterError, match="did you mean 'nightly'"):
        find_schedule(schedules, "nightley")


def test_the_shipped_schedule_file_is_valid() -> None:
    schedules = load_schedules(ROOT / "scheduled" / "schedules.yaml")
    assert schedules, "scheduled/schedules.yaml schedules nothing"
    assert all(s.notebook.is_relative_to(ROOT) for s in schedules)
