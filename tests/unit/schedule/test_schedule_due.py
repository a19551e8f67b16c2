"""The missed-run policy: first sight runs nothing, the latest due time runs once, older misses are skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubebook.schedule.due import MAX_COUNTED_MISSES, MAX_LISTED_MISSES, decide, latest_due, next_due


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_schedule_seen_for_the_first_time_runs_nothing_from_the_past() -> None:
    decision = decide("0 3 * * *", at("2026-01-10T14:00:00"), None)
    assert decision.due is None
    assert decision.next_due == at("2026-01-11T03:00:00")


def test_the_due_time_of_this_minute_runs_on_time() -> None:
    decision = decide("0 * * * *", at("2026-01-10T10:00:05"), at("2026-01-10T09:00:00"))
    assert decision.due == at("2026-01-10T10:00:00")
    assert not decision.catch_up
    assert decision.missed == () and decision.missed_total == 0
    assert decision.next_due == at("2026-01-10T11:00:00")


def test_nothing_is_due_until_the_next_cron_time() -> None:
    decision = decide("0 * * * *", at("2026-01-10T10:59:59"), at("2026-01-10T10:00:00"))
    assert decision.due is None
    assert decision.next_due == at("2026-01-10T11:00:00")


def test_first_seen_mid_minute_waits_for_the_next_due_minute() -> None:
    first_seen = at("2026-01-10T10:00:30")
    assert decide("* * * * *", at("2026-01-10T10:00:50"), first_seen).due is None
    assert decide("* * * * *", at("2026-01-10T10:01:02"), first_seen).due == at("2026-01-10T10:01:00")


def test_after_an_outage_only_the_latest_due_time_runs_and_older_ones_are_missed() -> None:
    decision = decide("0 3 * * *", at("2026-01-13T10:00:00"), at("2026-01-10T03:00:00"))
    assert decision.due == at("2026-01-13T03:00:00")
    assert decision.catch_up, "a due time whose minute is over is a catch-up run"
    assert decision.missed == (at("2026-01-11T03:00:00"), at("2026-01-12T03:00:00"))
    assert decision.missed_total == 2


def test_a_long_outage_of_an_every_minute_schedule_is_counted_with_a_cap() -> None:
    now = at("2026-01-10T10:00:00")
    decision = decide("* * * * *", now, now - timedelta(days=30))
    assert decision.due == now
    assert decision.missed_total == MAX_COUNTED_MISSES
    assert len(decision.missed) == MAX_LISTED_MISSES
    assert decision.missed[0] < decision.missed[-1]


def test_naive_times_are_taken_as_utc() -> None:
    naive = datetime(2026, 1, 10, 10, 0, 5)
    assert latest_due("0 * * * *", naive) == at("2026-01-10T10:00:00")
    assert next_due("0 * * * *", naive) == at("2026-01-10T11:00:00")
