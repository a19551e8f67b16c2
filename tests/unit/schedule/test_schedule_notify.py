"""Webhooks are retried with backoff against a real HTTP server on 127.0.0.1 and never fail a run."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kubebook.schedule.execute import Attempt, ScheduledRun, notification_payload, notify
from kubebook.schedule.model import Notify, Schedule
from kubebook.schedule.notify import redacted_target, send_webhook


class Receiver:
    """An HTTP server that answers ``fail_status`` to the first ``failures`` POSTs, then 204."""

    def __init__(self, failures: int = 0, fail_status: int = 503) -> None:
        self.failures, self.fail_status = failures, fail_status
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.paths.append(self.path)
                failing = len(receiver.bodies) <= receiver.failures
                self.send_response(receiver.fail_status if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/s3cr3t-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def test_a_webhook_failing_twice_is_delivered_on_the_third_attempt_with_growing_backoff(sleeps: list[float]) -> None:
    with Receiver(failures=2) as receiver:
        delivery = send_webhook(receiver.url, {"schedule": "s"}, attempts=4, backoff=0.5, sleep=sleeps.append)
    assert delivery.delivered and delivery.attempts == 3
    assert len(receiver.bodies) == 3
    assert sleeps == [0.5, 1.0]


def test_a_webhook_that_keeps_failing_gives_up_and_logs_without_the_token(
        sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with Receiver(failures=99, fail_status=500) as receiver:
        delivery = send_webhook(receiver.url, {"schedule": "s"}, attempts=3, backoff=0.1, sleep=sleeps.append)
    assert not delivery.delivered and delivery.attempts == 3
    assert "HTTP 500" in (delivery.error or "")
    assert len(receiver.bodies) == 3
    assert "not delivered after 3 attempt(s)" in caplog.text
    assert "s3cr3t-token" not in caplog.text and "s3cr3t-token" not in (delivery.error or "")


def test_a_client_error_is_not_retried(sleeps: list[float]) -> None:
    with Receiver(failures=99, fail_status=404) as receiver:
        delivery = send_webhook(receiver.url, {"schedule": "s"}, attempts=4, backoff=0.1, sleep=sleeps.append)
    assert not delivery.delivered and delivery.attempts == 1 and sleeps == []
    assert len(receiver.bodies) == 1


def test_a_receiver_that_is_down_is_retried_then_reported(sleeps: list[float]) -> None:
    with Receiver() as receiver:
        url = receiver.url
    delivery = send_webhook(url, {"schedule": "s"}, attempts=2, backoff=0.1, sleep=sleeps.append)
    assert not delivery.delivered and delivery.attempts == 2
    assert "ConnectionError" in (delivery.error or "")


def test_redacted_target_keeps_only_scheme_host_and_port() -> None:
    assert redacted_target("https://user:pw@hooks.example.com:8443/a/b?token=x") == "https://hooks.example.com:8443"


def failed_run(tmp_path: Path) -> ScheduledRun:
    attempts = [Attempt(run_id=f"r{i}", status="failed", exit_code=1, run_dir=str(tmp_path / f"r{i}"),
                        started="2026-01-10T10:00:00+00:00", ended="2026-01-10T10:00:09+00:00",
                        error="ValueError: boom") for i in (1, 2)]
    return ScheduledRun(schedule="nightly", trigger="schedule:nightly", due="2026-01-10T10:00:00+00:00",
                        attempts=attempts)


def schedule_with(tmp_path: Path, config: Notify) -> Schedule:
    return Schedule(name="nightly", notebook=tmp_path / "n.ipynb", cron="0 * * * *", notify=config)


def test_a_failed_scheduled_run_is_notified_with_schedule_status_run_id_report_and_error(tmp_path: Path) -> None:
    run = failed_run(tmp_path)
    with Receiver(failures=1) as receiver:
        delivery = notify(schedule_with(tmp_path, Notify(url=receiver.url, backoff=0.01)), run)
    assert delivery is not None and delivery.delivered and delivery.attempts == 2
    body = receiver.bodies[-1]
    assert body == notification_payload(schedule_with(tmp_path, Notify(url=receiver.url)), run)
    assert (body["schedule"], body["status"], body["run_id"], body["report"], body["error"]) == (
        "nightly", "failed", "r2", str(tmp_path / "r2"), "ValueError: boom")
    assert body["attempts"] == 2


def test_a_succeeded_run_is_not_notified_unless_asked(tmp_path: Path) -> None:
    run = failed_run(tmp_path)
    run.attempts[-1].status = "succeeded"
    with Receiver() as receiver:
        assert notify(schedule_with(tmp_path, Notify(url=receiver.url)), run) is None
        delivery = notify(schedule_with(tmp_path, Notify(url=receiver.url, statuses=("succeeded",))), run)
    assert delivery is not None and delivery.delivered
    assert [b["status"] for b in receiver.bodies] == ["succeeded"]


def test_a_webhook_url_from_an_unset_variable_is_logged_not_raised(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("KB_TEST_HOOK", raising=False)
    delivery = notify(schedule_with(tmp_path, Notify(url_env="KB_TEST_HOOK")), failed_run(tmp_path))
    assert delivery is not None and not delivery.delivered
    assert "KB_TEST_HOOK" in caplog.text


def test_a_webhook_url_is_read_from_the_named_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver() as receiver:
        monkeypatch.setenv("KB_TEST_HOOK", receiver.url)
        delivery = notify(schedule_with(tmp_path, Notify(url_env="KB_TEST_HOOK")), failed_run(tmp_path))
    assert delivery is not None and delivery.delivered
    assert receiver.paths == ["/hooks/s3cr3t-token"]
