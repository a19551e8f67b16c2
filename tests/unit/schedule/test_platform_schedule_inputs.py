"""Bad schedule input is a one-line error (exit 2); a broken state file of one schedule never stops the others."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from test_schedule_run import T0, places, schedule_file  # noqa: F401  (places is a fixture)

from kubebook.cli import main
from kubebook.errors import ScheduleError
from kubebook.schedule import Scheduler, load_schedules
from kubebook.schedule.state import StateStore

BROKEN_STATES = {
    "list": "[]",
    "null": "null",
    "text": '"x"',
    "running-text": '{"running": "x"}',
    "due-number": '{"last_due": 5}',
    "due-text": '{"last_due": "yesterday"}',
    "due-year-9999": '{"last_due": "9999-12-31T23:59:00+00:00"}',
    "seen-number": '{"first_seen": 1}',
    "skipped-map": '{"skipped": {}}',
    "skipped-items": '{"skipped": [1, 2]}',
    "missed-text": '{"missed_total": "3"}',
    "missed-bool": '{"missed_total": true}',
    "last-run-list": '{"last_run": []}',
    "running-items": '{"running": [[1]]}',
    "name-other": '{"schedule": 7}',
}


def test_a_state_file_as_written_reads_back(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    with store.locked("ok") as state:
        state.first_seen = T0.isoformat()
        state.record_skip(T0, "missed", T0)
        state.running.append({"token": "t", "pid": 1})
        state.last_run = {"status": "succeeded"}
        state.missed_total = 2
    assert store.read("ok") == state


@pytest.mark.parametrize("name, text", BROKEN_STATES.items(), ids=list(BROKEN_STATES))
def test_a_wrong_shaped_state_file_is_one_schedule_error_naming_the_file(tmp_path: Path, name: str,
                                                                         text: str) -> None:
    document = json.loads(text)
    if isinstance(document, dict):
        document = {"schedule": name, "first_seen": "2026-01-10T10:00:00+00:00", **document}
    (tmp_path / f"{name}.json").write_text(json.dumps(document))
    with pytest.raises(ScheduleError) as caught:
        StateStore(tmp_path).read(name)
    message = str(caught.value)
    assert str(tmp_path / f"{name}.json") in message and "delete the file" in message
    assert "\n" not in message


def test_broken_state_files_never_stop_the_other_schedules_of_a_tick(tmp_path: Path,
                                                                     places: tuple[Path, Path]) -> None:  # noqa: F811
    archive, state_dir = places
    broken = {"list": "[]", "null": "null", "wrong-types": '{"running": "x", "last_due": 5, "skipped": {}}'}
    file = schedule_file(tmp_path, *({"name": name, "cron": "* * * * *"} for name in [*broken, "healthy"]))
    scheduler = Scheduler(load_schedules(file), archive=archive)
    assert scheduler.tick(T0).runs == []
    for name, text in broken.items():
        (state_dir / f"{name}.json").write_text(text)
    report = scheduler.tick(T0 + timedelta(minutes=1))
    by_name = {run.schedule: run for run in report.runs}
    assert by_name["healthy"].status == "succeeded"
    for name in broken:
        assert by_name[name].status == "error" and by_name[name].failed
        assert f"{name}.json" in (by_name[name].error or "") and "\n" not in (by_name[name].error or "")


@pytest.mark.parametrize("now", ["9999-12-31T23:59:30", "0001-01-01T00:00:00", "9999-12-31T23:59:30+00:00"])
def test_a_now_outside_the_calendar_a_cron_can_reach_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], now: str) -> None:
    file = schedule_file(tmp_path, {"name": "healthy", "cron": "* * * * *"})
    code = main(["schedule", "tick", "--file", str(file), "--archive", str(tmp_path / "a"), "--now", now])
    err = capsys.readouterr().err
    assert code == 2 and "--now" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "a" / ".schedule" / "healthy.json").exists(), "nothing was recorded"


def deep_notebook(folder: Path, depth: int = 100_000) -> Path:
    path = folder / "deep.ipynb"
    path.write_text('{"cells": [], "metadata": {"x": ' + "[" * depth + "]" * depth
                    + '}, "nbformat": 4, "nbformat_minor": 5}')
    return path


def test_a_notebook_nested_100k_deep_is_a_one_line_error_for_run_and_for_schedules(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = deep_notebook(tmp_path)
    assert main(["run", str(notebook), "--archive", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "deep" in err and len(err.strip().splitlines()) == 1, err
    file = tmp_path / "schedules.yaml"
    file.write_text(json.dumps({"schedules": [{"name": "deep", "notebook": str(notebook), "cron": "@daily"}]}))
    assert main(["schedule", "validate", "--file", str(file)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "nest" in err, err
    assert main(["schedule", "render-cronjobs", "--file", str(file), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_schedule_list_shows_a_broken_state_in_its_row_and_lists_the_others(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = schedule_file(tmp_path, {"name": "broken", "cron": "@daily"}, {"name": "fine", "cron": "@daily"})
    state = tmp_path / "a" / ".schedule"
    state.mkdir(parents=True)
    (state / "broken.json").write_text("[]")
    assert main(["schedule", "list", "--file", str(file), "--archive", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "state unreadable" in out and "fine" in out
