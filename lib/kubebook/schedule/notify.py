"""Webhook notifications about scheduled runs, retried with backoff, never fatal.

A notification is advisory: the run and its report already exist when it is
sent, so a webhook that is down is logged and never changes the run's status or
the scheduler's exit code. Only the webhook's host is logged, because webhook
URLs often embed a token in their path or query.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

# Worth retrying: the receiver is overloaded or restarting. Other 4xx mean the request is wrong.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Delivery:
    """How sending one notification went."""

    delivered: bool
    attempts: int
    error: str | None = None


def redacted_target(url: str) -> str:
    """``scheme://host[:port]`` of a URL, without credentials, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def send_webhook(url: str, payload: dict[str, Any], *, attempts: int = 4, backoff: float = 1.0,
                 timeout: float = 10.0, sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """POST ``payload`` as JSON; retry connection errors and 408/425/429/5xx, waiting backoff*2**n between."""
    target = redacted_target(url)
    error = "not sent"
    for attempt in range(1, attempts + 1):
        try:
            response = requests.post(url, json=payload, timeout=timeout)
        except requests.RequestException as exc:
            error = f"{exc.__class__.__name__} talking to {target}"
            retry = True
        else:
            if response.status_code < 300:
                log.info("notification about %s delivered to %s (attempt %d)", payload.get("schedule"),
                         target, attempt)
                return Delivery(True, attempt)
            error = f"{target} answered HTTP {response.status_code}"
            retry = response.status_code in RETRY_STATUSES
        if not retry or attempt == attempts:
            break
        delay = backoff * 2 ** (attempt - 1)
        log.warning("notification attempt %d/%d failed (%s); retrying in %.1fs", attempt, attempts, error, delay)
        sleep(delay)
    log.error("notification about %s was not delivered after %d attempt(s): %s", payload.get("schedule"),
              attempt, error)
    return Delivery(False, attempt, error)
