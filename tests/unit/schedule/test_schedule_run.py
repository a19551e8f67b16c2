"""Scheduled runs end to end with real kernels: locks across processes, missed runs, retries, notifications.

Ticks are evaluated at explicit times (``--now``/``tick(now)``) so the tests never wait for a clock minute.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from test_schedule_notify import Receiver

from kubebook.archive import Archive
from kubebook.errors import ScheduleError
from kubebook.schedule import Scheduler, find_schedule, load_schedules
from kubebook.schedule.state import StateStore

pytestmark = pytest.mark.process  # the scheduler daemon

T0 = datetime(2026, 1, 10, 10, 0, 30, tzinfo=UTC)
WORK = """
import os, pathlib, time
pids = os.environ.get("KUBEBOOK_TEST_PIDS")  # written before any import: a loaded machine can outlast a timeout
pathlib.Path(pids, os.environ["KUBEBOOK_RUN_ID"]).write_text(str(os.getpid())) if pids else None
from kubebook.notebook import record


record("pid", os.getpid())
if fail_until_marker and not pathlib.Path(fail_until_marker).exists():
    pathlib.Path(fail_until_marker).touch()
    raise RuntimeError("first attempt fails on purpose")
if always_fail:
    raise RuntimeError("this notebook always fails")
time.sleep(seconds)
record("value", value)
"""


def work_notebook(folder: Path) -> Path:
    """A kubebook notebook that sleeps, fails on purpose or fails once, as its parameters say."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('seconds = 0.0  # how long to work\nvalue = 1  # what to record\n'
                                       'always_fail = False  # raise every time\n'
                                       'fail_until_marker = ""  # fail once, until this file exists')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(WORK)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kubebook"] = {
        "title": "work", "description": "test work", "category": "test", "risk": "readonly", "rbac": [],
        "parameters": {"type": "object", "additionalProperties": False, "properties": {
            "seconds": {"type": "number", "minimum": 0}, "value": {"type": "integer"},
            "always_fail": {"type": "boolean"}, "fail_until_marker": {"type": "string"}}},
    }
    path = folder / "work.ipynb"
    nbformat.write(nb, path)
    return path


def schedule_file(folder: Path, *entries: dict[str, Any]) -> Path:
    notebook = work_notebook(folder)
    document = {"version": 1, "defaults": {"retry_delay": 0, "timeout": 120},
                "schedules": [{"notebook": str(notebook), **entry} for entry in entries]}
    path = folder / "schedules.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def cli(*args: str, **popen: Any) -> subprocess.Popen[str]:
    options: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    return subprocess.Popen([sys.executable, "-m", "kubebook.cli", "schedule", *args], **options)


def wait_until(condition: Any, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def running(state_dir: Path, name: str) -> bool:
    path = state_dir / f"{name}.json"
    return path.exists() and bool(StateStore(state_dir).read(name).running)


@contextmanager
def daemon_running(tmp_path: Path, places: tuple[Path, Path], name: str, seconds: float,
                   log: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A daemon (stderr to ``log``) whose first tick started a due run of ``name`` that works ``seconds``;
    killed on leaving the block if it is still there."""
    archive, state_dir = places
    file = schedule_file(tmp_path, {"name": name, "cron": "* * * * *", "parameters": {"seconds": seconds}})
    common = ["--file", str(file), "--archive", str(archive)]
    # Seen five minutes ago, so the daemon's first tick finds a due (catch-up) run at once.
    assert cli("tick", *common, "--now", (datetime.now(UTC) - timedelta(minutes=5)).isoformat()).wait() == 0
    daemon = cli("daemon", *common, stderr=log.open("w"))
    try:
        wait_until(lambda: running(state_dir, name), "the daemon's run to start")
        yield daemon, file
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.delenv("KUBEBOOK_STATE_DIR", raising=False)
    return tmp_path / "reports", tmp_path / "reports" / ".schedule"


def test_two_concurrent_ticks_run_a_due_schedule_once(tmp_path: Path, places: tuple[Path, Path]) -> None:
    archive, state_dir = places
    file = schedule_file(tmp_path, {"name": "minutely", "cron": "* * * * *", "parameters": {"seconds": 2}})
    common = ["--file", str(file), "--archive", str(archive)]
    first = cli("tick", *common, "--now", T0.isoformat())
    assert first.wait() == 0 and "nothing due" in first.stdout.read()
    due = T0 + timedelta(minutes=1)
    ticks = [cli("tick", *common, "--now", due.isoformat()) for _ in range(2)]
    outputs = [(tick.wait(timeout=300), tick.stdout.read(), tick.stderr.read()) for tick in ticks]
    assert [code for code, _, _ in outputs] == [0, 0], outputs
    runs = Archive(archive).list_runs()
    assert len(runs) == 1, f"the due schedule ran {len(runs)} times: {outputs}"
    assert runs[0].status == "succeeded" and runs[0].trigger == "schedule:minutely"
    texts = sorted(out for _, out, _ in outputs)
    assert sum("succeeded" in t for t in texts) == 1
    assert sum("nothing due" in t or "skipped: still running" in t for t in texts) == 1
    assert StateStore(state_dir).read("minutely").last_due == "2026-01-10T10:01:00+00:00"


def test_a_run_overlapping_its_next_due_time_makes_that_tick_skip_under_forbid(
        tmp_path: Path, places: tuple[Path, Path]) -> None:
    archive, state_dir = places
    file = schedule_file(tmp_path, {"name": "slow", "cron": "* * * * *", "parameters": {"seconds": 8}})
    common = ["--file", str(file), "--archive", str(archive)]
    assert cli("tick", *common, "--now", T0.isoformat()).wait() == 0
    long_run = cli("tick", *common, "--now", (T0 + timedelta(minutes=1)).isoformat())
    try:
        wait_until(lambda: running(state_dir, "slow"), "the first run to start")
        second = cli("tick", *common, "--now", (T0 + timedelta(minutes=2)).isoformat())
        assert second.wait(timeout=120) == 0
        said = second.stdout.read()
        assert "slow (due 2026-01-10T10:02:00+00:00): skipped: still running since" in said
        assert "concurrency_policy Forbid" in said
    finally:
        assert long_run.wait(timeout=300) == 0
    assert [r.status for r in Archive(archive).list_runs()] == ["succeeded"]
    state = StateStore(state_dir).read("slow")
    assert state.last_due == "2026-01-10T10:02:00+00:00"
    assert state.skipped[-1]["due"] == "2026-01-10T10:02:00+00:00"
    assert "Forbid" in state.skipped[-1]["reason"]
    assert state.running == [] and state.last_run["status"] == "succeeded"


def test_after_missed_due_times_only_one_catch_up_runs_and_the_rest_are_recorded_skipped(
        tmp_path: Path, places: tuple[Path, Path]) -> None:
    archive, state_dir = places
    scheduler = Scheduler(load_schedules(schedule_file(tmp_path, {"name": "hourly", "cron": "0 * * * *"})),
                          archive=archive)
    assert scheduler.tick(T0).runs == []
    report = scheduler.tick(T0 + timedelta(hours=3, minutes=5))
    assert [(r.schedule, r.status, r.due) for r in report.runs] == [
        ("hourly", "succeeded", "2026-01-10T13:00:00+00:00")]
    assert scheduler.tick(T0 + timedelta(hours=3, minutes=10)).runs == [], "the catch-up ran; nothing is due"
    state = StateStore(state_dir).read("hourly")
    assert [s["due"] for s in state.skipped] == ["2026-01-10T11:00:00+00:00", "2026-01-10T12:00:00+00:00"]
    assert all(s["reason"].startswith("missed") for s in state.skipped) and state.missed_total == 2
    on_time = scheduler.tick(datetime(2026, 1, 10, 14, 0, 2, tzinfo=UTC))
    assert [r.trigger for r in on_time.runs] == ["schedule:hourly"]
    assert [r.trigger for r in Archive(archive).list_runs()] == ["schedule:hourly", "catch-up:hourly"]


def test_a_failing_run_is_retried_each_attempt_archived_and_notified_once(
        tmp_path: Path, places: tuple[Path, Path]) -> None:
    archive, _ = places
    with Receiver() as receiver:
        file = schedule_file(tmp_path, {"name": "broken", "cron": "@daily", "retries": 2,
                                        "parameters": {"always_fail": True},
                                        "notify": {"url": receiver.url, "backoff": 0.01}})
        schedules = load_schedules(file)
        result = Scheduler(schedules, archive=archive).run_now(find_schedule(schedules, "broken"))
    assert [a.status for a in result.attempts] == ["failed", "failed", "failed"]
    archived = Archive(archive).list_runs()
    assert sorted(r.run_id for r in archived) == sorted(a.run_id for a in result.attempts)
    assert all(r.status == "failed" and r.trigger == "manual:broken" for r in archived)
    (body,) = receiver.bodies
    assert (body["schedule"], body["status"], body["attempts"]) == ("broken", "failed", 3)
    assert body["run_id"] == result.attempts[-1].run_id
    assert body["report"] == result.attempts[-1].run_dir and Path(body["report"], "report.html").is_file()
    assert "this notebook always fails" in body["error"]


def test_a_run_failing_once_succeeds_on_its_retry_without_a_notification(
        tmp_path: Path, places: tuple[Path, Path]) -> None:
    archive, _ = places
    with Receiver() as receiver:
        file = schedule_file(tmp_path, {"name": "flaky", "cron": "@daily", "retries": 1,
                                        "parameters": {"fail_until_marker": str(tmp_path / "marker")},
                                        "notify": {"url": receiver.url}})
        schedules = load_schedules(file)
        result = Scheduler(schedules, archive=archive).run_now(schedules[0])
    assert [a.status for a in result.attempts] == ["failed", "succeeded"]
    assert sorted(r.status for r in Archive(archive).list_runs()) == ["failed", "succeeded"]
    assert receiver.bodies == []


def test_a_timed_out_run_among_parallel_ones_is_killed_and_notified(
        tmp_path: Path, places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    archive, _ = places
    monkeypatch.setenv("KUBEBOOK_TEST_PIDS", str(tmp_path))
    with Receiver() as receiver:
        file = schedule_file(
            tmp_path,
            {"name": "stuck", "cron": "@daily", "timeout": 15, "retries": 0, "parameters": {"seconds": 600},
             "notify": {"url": receiver.url}},
            {"name": "quick", "cron": "@daily", "parameters": {"value": 7}})
        results = Scheduler(load_schedules(file), archive=archive, parallel=2).run_all()
    assert [(r.schedule, r.status) for r in results] == [("stuck", "timeout"), ("quick", "succeeded")]
    (body,) = receiver.bodies
    assert (body["schedule"], body["status"]) == ("stuck", "timeout")
    pid = int((tmp_path / results[0].last.run_id).read_text())
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "State:\tZ" in status.read_text(), f"kernel {pid} still runs"


def test_allow_runs_alongside_a_held_run_lock_and_forbid_refuses(tmp_path: Path, places: tuple[Path, Path]) -> None:
    archive, state_dir = places
    file = schedule_file(tmp_path, {"name": "forbid", "cron": "@daily"},
                         {"name": "allow", "cron": "@daily", "concurrency_policy": "Allow"})
    schedules = load_schedules(file)
    scheduler = Scheduler(schedules, archive=archive)
    held = [StateStore(state_dir).try_run_lock(name) for name in ("forbid", "allow")]
    try:
        with pytest.raises(ScheduleError, match="'forbid' is skipped: still running"):
            scheduler.run_now(find_schedule(schedules, "forbid"))
        assert scheduler.run_now(find_schedule(schedules, "allow")).status == "succeeded"
    finally:
        for lock in held:
            assert lock is not None
            lock.release()
    assert [r.runbook for r in Archive(archive).list_runs()] == ["work"]


def test_run_all_prints_a_summary_and_the_index_and_fails_when_a_schedule_fails(
        tmp_path: Path, places: tuple[Path, Path]) -> None:
    archive, _ = places
    file = schedule_file(tmp_path, {"name": "good", "cron": "@daily"},
                         {"name": "bad", "cron": "@daily", "retries": 0, "parameters": {"always_fail": True}},
                         {"name": "off", "cron": "@daily", "enabled": False})
    done = cli("run-all", "--file", str(file), "--archive", str(archive), "--parallel", "2")
    code, out = done.wait(timeout=300), done.stdout.read()
    assert code == 1, out
    lines = out.splitlines()
    assert lines[0] == "running 3 schedule(s), 2 in parallel"
    assert lines[1].split() == ["SCHEDULE", "STATUS", "ATTEMPTS", "SECONDS", "RUN", "ID", "/", "REASON"]
    assert lines[2].split()[:3] == ["good", "succeeded", "1"]
    assert lines[3].split()[:3] == ["bad", "failed", "1"]
    assert lines[4].split()[:3] == ["off", "skipped", "0"] and "disabled" in lines[4]
    assert "1 succeeded, 1 skipped, 1 failed: bad" in out
    assert f"report index: {archive.resolve() / 'index.html'}" in out
    assert (archive / "index.html").is_file()


def test_the_daemon_finishes_the_run_in_progress_on_sigterm_and_exits_cleanly(
        tmp_path: Path, places: tuple[Path, Path]) -> None:
    archive, state_dir = places
    log = tmp_path / "daemon.log"
    with daemon_running(tmp_path, places, "minutely", 5, log) as (daemon, _):
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=120) == 0
    said = log.read_text()
    assert "SIGTERM received: no new ticks; waiting for runs in progress to finish" in said
    assert "scheduler daemon stopped cleanly" in said
    assert [r.status for r in Archive(archive).list_runs()] == ["succeeded"]
    assert StateStore(state_dir).read("minutely").running == []


def test_an_unknown_schedule_name_exits_2_with_a_suggestion(tmp_path: Path, places: tuple[Path, Path]) -> None:
    file = schedule_file(tmp_path, {"name": "nightly", "cron": "@daily"})
    done = cli("run", "nightlly", "--file", str(file), "--archive", str(places[0]))
    assert done.wait() == 2
    assert done.stderr.read().strip() == "kubebook: no schedule named 'nightlly' (did you mean 'nightly'?)"


def test_a_second_sigterm_abandons_the_run_and_the_next_tick_records_it_interrupted(
        tmp_path: Path, places: tuple[Path, Path]) -> None:
    archive, state_dir = places
    log = tmp_path / "daemon.log"
    with daemon_running(tmp_path, places, "long", 300, log) as (daemon, file):
        daemon.send_signal(signal.SIGTERM)
        wait_until(lambda: "waiting for runs in progress" in log.read_text(), "the first signal to be handled")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 128 + signal.SIGTERM
    assert Archive(archive).list_runs() == []
    state = StateStore(state_dir).read("long")
    assert len(state.running) == 1, "the abandoned run is still marked running"
    quiet = datetime.fromisoformat(state.last_due) + timedelta(seconds=1)  # nothing new is due then
    assert Scheduler(load_schedules(file), archive=archive).tick(quiet).runs == []
    state = StateStore(state_dir).read("long")
    assert state.running == [] and state.last_run["status"] == "interrupted"
    assert state.skipped[-1]["reason"].startswith("interrupted: process ")



def test_a_broken_state_file_is_reported_and_the_other_schedules_still_run(
        tmp_path: Path, places: tuple[Path, Path]) -> None:
    archive, state_dir = places
    file = schedule_file(tmp_path, {"name": "broken-state", "cron": "* * * * *"},
                         {"name": "healthy", "cron": "* * * * *"})
    scheduler = Scheduler(load_schedules(file), archive=archive)
    assert scheduler.tick(T0).runs == []
    (state_dir / "broken-state.json").write_text("{truncated")
    report = scheduler.tick(T0 + timedelta(minutes=1))
    by_name = {run.schedule: run for run in report.runs}
    assert by_name["healthy"].status == "succeeded"
    assert by_name["broken-state"].status == "error" and by_name["broken-state"].failed
    assert "delete the file" in (by_name["broken-state"].error or "")
