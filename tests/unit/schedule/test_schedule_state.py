"""Schedule state survives crashes (atomic JSON) and the run lock excludes other processes without waiting."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubebook.errors import ScheduleError
from kubebook.schedule.state import MAX_SKIPS_KEPT, ScheduleState, StateStore, default_state_dir

HOLD_LOCK = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1], thread_local=False)
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_state_round_trips_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    with store.locked("nightly") as state:
        state.first_seen = "2026-01-10T10:00:00+00:00"
        state.record_skip(datetime(2026, 1, 10, 11, tzinfo=UTC), "missed", datetime(2026, 1, 10, 12, tzinfo=UTC))
    again = store.read("nightly")
    assert again.first_seen == "2026-01-10T10:00:00+00:00"
    assert again.skipped == [{"due": "2026-01-10T11:00:00+00:00", "reason": "missed",
                              "recorded": "2026-01-10T12:00:00+00:00"}]
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["nightly.json", "nightly.state.lock"]
    assert json.loads((tmp_path / "state" / "nightly.json").read_text())["schedule"] == "nightly"


def test_a_failing_block_does_not_write_the_state(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    with pytest.raises(RuntimeError), store.locked("x") as state:
        state.first_seen = "changed"
        raise RuntimeError("boom")
    assert store.read("x").first_seen is None


def test_only_the_latest_skips_are_kept(tmp_path: Path) -> None:
    state = ScheduleState(schedule="x")
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(MAX_SKIPS_KEPT + 5):
        state.record_skip(moment, "missed", moment)
    assert len(state.skipped) == MAX_SKIPS_KEPT


def test_an_unreadable_state_file_is_named_with_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ScheduleError) as error:
        StateStore(tmp_path).read("x")
    assert str(tmp_path / "x.json") in str(error.value)
    assert "delete the file" in str(error.value)


@pytest.mark.process
def test_the_run_lock_held_by_another_process_is_refused_at_once_and_freed_when_it_dies(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path / "x.run.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        # A waiting attempt would only return once the holder exits (60 s), holding the lock: not None.
        assert store.try_run_lock("x") is None
    finally:
        holder.kill()
        holder.wait()
    lock = store.try_run_lock("x")
    assert lock is not None, "the operating system releases the lock of a dead process"
    lock.release()


def test_state_dir_is_the_environment_variable_or_inside_the_archive(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBEBOOK_STATE_DIR", raising=False)
    assert default_state_dir(tmp_path / "reports") == tmp_path / "reports" / ".schedule"
    monkeypatch.setenv("KUBEBOOK_STATE_DIR", str(tmp_path / "elsewhere"))
    assert default_state_dir(tmp_path / "reports") == tmp_path / "elsewhere"
