"""The Prometheus reader against real HTTP servers on 127.0.0.1: bounded in size and time, strict on shape."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kubebook.capacity import collect
from kubebook.errors import ClusterError, ParameterError

END = 1_796_000_000.0  # 2026-11-30
Handler = Callable[[BaseHTTPRequestHandler], None]


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    """Start HTTP servers whose GET does what the test says; returns their base URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(behaviour: Handler) -> str:
        class Handle(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    behaviour(self)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _json(handler: BaseHTTPRequestHandler, document: Any) -> None:
    body = json.dumps(document).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _matrix(values: list[list[Any]]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"namespace": "shop", "pod": "web-5d8f9c7b6d-abcde", "container": "main"}, "values": values}]}}


def _read(url: str, **kwargs: Any) -> Any:
    return collect.from_prometheus(url, hours=1, step_seconds=60, end=END, inv=collect.Inventory(), **kwargs)


def test_a_normal_answer_becomes_samples_and_infinite_values_are_skipped_and_counted(serve):
    url = serve(lambda h: _json(h, _matrix([[END - 120, "0.25"], [END - 60, "+Inf"], [END, "NaN"]])))
    samples = _read(url)
    assert len(samples) == 1 and samples["cpu_cores"].iloc[0] == 0.25
    assert samples.attrs["values_skipped"] == 4  # +Inf and NaN in both queries


@pytest.mark.parametrize("body", [[1, 2, 3], {"status": "success", "data": {"result": "abc"}},
                                  _matrix([[END, "abc"]]), _matrix([["later", "1"]]),
                                  _matrix([[END + 10 * 86400, "1"]]), {"status": "success", "data": [1]}])
def test_a_malformed_answer_is_one_line_naming_what_was_wrong(serve, body):
    url = serve(lambda h: _json(h, body))
    with pytest.raises(ParameterError) as error:
        _read(url)
    assert "Prometheus" in str(error.value) and "\n" not in str(error.value)


def test_a_deeply_nested_answer_is_refused_not_a_recursion_crash(serve):
    url = serve(lambda h: _json_raw(h, b"[" * 200_000 + b"]" * 200_000))
    with pytest.raises(ParameterError, match="Prometheus"):
        _read(url)


def _json_raw(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_a_body_over_the_size_cap_is_refused_before_it_is_read_whole(serve):
    chunk = b" " * 65536

    def big(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()  # no Content-Length: the cap must hold while streaming
        for _ in range(64):  # 4 MiB
            handler.wfile.write(chunk)

    url = serve(big)
    with pytest.raises(ClusterError, match="larger than 1 MiB"):
        _read(url, max_body_bytes=2**20)


def test_a_server_that_drips_one_byte_at_a_time_hits_the_total_deadline(serve):
    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        for _ in range(40):  # ~12 s at most, so a reader without a deadline ends (and fails differently)
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.3)

    url = serve(drip)
    with pytest.raises(ClusterError, match=r"did not finish within 1\.5 s"):
        _read(url, deadline_seconds=1.5)


def test_a_redirect_to_another_origin_is_refused_and_one_to_the_same_origin_followed(serve):
    target = serve(lambda h: _json(h, _matrix([[END, "0.5"]])))

    def elsewhere(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", f"{target}{handler.path}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with pytest.raises(ClusterError, match="another origin"):
        _read(serve(elsewhere))

    def same(handler: BaseHTTPRequestHandler) -> None:
        if handler.path.startswith("/prom"):
            _json(handler, _matrix([[END, "0.5"]]))
            return
        handler.send_response(307)
        handler.send_header("Location", "/prom" + handler.path)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    assert len(_read(serve(same))) == 1


def test_the_cli_prints_a_malformed_answer_as_one_line_and_exits_2(serve, monkeypatch, capsys):
    from kubebook import cluster
    from kubebook.cli import main

    class Empty:
        def list_path(self, path: str, **_: Any) -> list[Any]:
            return []

        def fingerprint(self) -> str:
            return "0123456789abcdef"

    monkeypatch.setattr(cluster, "connect", lambda *a, **k: Empty())
    url = serve(lambda h: _json(h, [1, 2, 3]))
    assert main(["capacity", "collect", "--prometheus", url, "--store", "/nonexistent-never-written"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Prometheus" in err
