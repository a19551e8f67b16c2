"""Reading a Prometheus HTTP API answer with bounds on time, size, origin and shape.

Why not ``requests.get(url, timeout=30).json()``: its timeout is per socket read, so a server
that sends one byte every 20 s holds the caller forever, the body is read whole (a 500 MB
answer took 9.4 GB), redirects to any host are followed silently, and whatever JSON comes back
is trusted. Here a collection has one **total deadline** (each read also waits at most
``READ_TIMEOUT`` seconds), the body is streamed and refused past ``max_body_bytes`` (compression
is declined, so the cap is on what is parsed), a redirect is followed only within the same
origin (scheme, host, port), and :func:`matrix` accepts only a ``query_range`` matrix with
finite-or-skipped values and timestamps inside the asked range.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from kubebook.errors import ClusterError, ParameterError

READ_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
MAX_REDIRECTS = 3
CHUNK = 65536
REDIRECTS = (301, 302, 303, 307, 308)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(parts.scheme)


def get(url: str, params: dict[str, Any], *, deadline_seconds: float, max_body_bytes: int,
        budget_seconds: float | None = None) -> tuple[int, bytes]:
    """GET ``url`` within ``deadline_seconds`` in total; (HTTP status, body of at most ``max_body_bytes``).

    ``budget_seconds`` is the whole collection's deadline this request is part of (for the message).
    """
    import requests
    import urllib3

    ends = time.monotonic() + deadline_seconds
    late = ClusterError(f"Prometheus at {url} did not finish within {budget_seconds or deadline_seconds:g} s",
                        hint="check the server, or narrow the range (--hours) or coarsen the step (--step)")
    current, query, origin = url, params, _origin(url)
    with requests.Session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            remaining = ends - time.monotonic()
            if remaining <= 0:
                raise late
            try:
                response = session.get(current, params=query, stream=True, allow_redirects=False,
                                       headers={"Accept": "application/json", "Accept-Encoding": "identity"},
                                       timeout=(min(CONNECT_TIMEOUT, remaining), min(READ_TIMEOUT, remaining)))
            except requests.RequestException as error:
                if time.monotonic() >= ends:
                    raise late from error
                raise ClusterError(f"Prometheus at {url} did not answer: {error.__class__.__name__}",
                                   hint="check the URL (local cluster: kubebook cluster status shows it)") from error
            with response:
                if response.status_code in REDIRECTS and response.headers.get("Location"):
                    target = urljoin(current, response.headers["Location"])
                    if _origin(target) != origin:
                        scheme, host, port = _origin(target)
                        raise ClusterError(f"Prometheus at {url} redirected to another origin "
                                           f"{scheme}://{host}:{port}; not followed",
                                           hint="pass that URL with --prometheus if you trust it")
                    current, query = target, None
                    continue
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_body_bytes:
                    raise _too_big(url, max_body_bytes)
                body = bytearray()
                try:
                    while chunk := response.raw.read1(CHUNK):
                        body += chunk
                        if len(body) > max_body_bytes:
                            raise _too_big(url, max_body_bytes)
                        if time.monotonic() >= ends:
                            raise late
                except (urllib3.exceptions.HTTPError, OSError) as error:
                    if time.monotonic() >= ends:
                        raise late from error
                    raise ClusterError(f"Prometheus at {url} stopped sending: {error.__class__.__name__}",
                                       hint=f"each read waits at most {READ_TIMEOUT:g} s") from error
                return response.status_code, bytes(body)
    raise ClusterError(f"Prometheus at {url} redirected more than {MAX_REDIRECTS} times")


def _too_big(url: str, limit: int) -> ClusterError:
    return ClusterError(f"Prometheus at {url} sent an answer larger than {limit / 2**20:g} MiB; not read further",
                        hint="narrow the range (--hours), coarsen the step (--step) or raise --max-body-mb")


def document(url: str, status: int, body: bytes) -> dict[str, Any]:
    """The JSON object of a Prometheus answer; malformed is a ParameterError, a rejected query a ClusterError."""
    try:
        parsed = json.loads(body)
    except RecursionError as error:
        raise ParameterError(f"Prometheus at {url} answered JSON nested too deeply") from error
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        if status != 200:
            raise ClusterError(f"Prometheus at {url} answered HTTP {status} without JSON") from error
        raise ParameterError(f"Prometheus at {url} answered HTTP 200 with a body that is not JSON") from error
    if not isinstance(parsed, dict):
        raise _shape(url, f"the answer is a JSON {type(parsed).__name__}, not an object")
    if parsed.get("status") != "success":
        raise ClusterError(f"Prometheus rejected the query: {str(parsed.get('error', status))[:200]}")
    return parsed


def _shape(url: str, what: str) -> ParameterError:
    return ParameterError(f"Prometheus at {url} answered an unexpected shape: {what}",
                          hint='expected data.result = [{"metric": {...}, "values": [[<unix time>, "<number>"]]}]')


def matrix(url: str, parsed: dict[str, Any], start: float, end: float,
           step: float) -> tuple[list[tuple[dict[str, str], float, float]], int]:
    """(labels, time, value) for every finite point of a range answer, and how many NaN/Inf points were skipped."""
    data = parsed.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("result"), list):
        raise _shape(url, "data.result is not a list")
    points, skipped = [], 0
    for series in data["result"]:
        if not isinstance(series, dict) or not isinstance(series.get("metric", {}), dict) \
                or not isinstance(series.get("values"), list):
            raise _shape(url, "a result is not {metric, values}")
        labels = {str(k): str(v) for k, v in (series.get("metric") or {}).items()}
        for pair in series["values"]:
            if not isinstance(pair, list) or len(pair) != 2 or isinstance(pair[0], bool) \
                    or not isinstance(pair[0], int | float) or not isinstance(pair[1], str):
                raise _shape(url, f"a point is {str(pair)[:60]}, not [time, \"value\"]")
            stamp = float(pair[0])
            if not start - step <= stamp <= end + step:
                raise _shape(url, f"a point's time {stamp:g} is outside the asked range {start:g}..{end:g}")
            try:
                value = float(pair[1])
            except ValueError as error:
                raise _shape(url, f"a point's value {pair[1][:40]!r} is not a number") from error
            if not math.isfinite(value):
                skipped += 1
                continue
            points.append((labels, stamp, value))
    return points, skipped
