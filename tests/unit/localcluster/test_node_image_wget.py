"""The busybox image's /bin/wget: Debian's applet crashes on -T, the image's wrapper gives it its meaning.

Debian builds busybox without wget's timeout feature; the applet still takes ``-T`` and dies with
SIGSEGV. These tests run the real Debian busybox on this host (the Makefile installs busybox-static)
against a real HTTP server on 127.0.0.1: first the crash itself (if Debian ever fixes it, the first test
fails and says the wrapper can go), then the wrapper from the image's own layer entries.
"""

from __future__ import annotations

import http.server
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubebook.localcluster import images

pytestmark = pytest.mark.process  # Debian's busybox against an HTTP server on 127.0.0.1


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    class Pong(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"pong\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pong)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture
def wget(tmp_path: Path) -> Path:
    """The image's /bin/wget entry, written out as the image holds it (a script calling /bin/busybox)."""
    entry = next(e for e in images.busybox_image_entries() if e.path == "/bin/wget")
    assert entry.link is None and entry.data is not None, "wget must be the wrapper, not a link to the applet"
    path = tmp_path / "wget"
    path.write_bytes(entry.data)
    path.chmod(entry.mode)
    return path


def test_debians_wget_applet_crashes_on_a_timeout_option(server: str) -> None:
    result = subprocess.run([str(images.BUSYBOX), "wget", "-T", "2", "-q", "-O", "-", server],
                            capture_output=True, timeout=30)
    assert result.returncode == -signal.SIGSEGV


@pytest.mark.parametrize("options", [["-T", "2"], ["-T2"], ["-qT", "2"], ["-qT2"], ["--timeout=2"],
                                     ["--timeout", "2"], []])
def test_the_images_wget_fetches_with_every_spelling_of_the_timeout(wget: Path, server: str,
                                                                     options: list[str]) -> None:
    result = subprocess.run([str(wget), *options, "-q", "-O", "-", server], capture_output=True, timeout=30)
    assert (result.returncode, result.stdout) == (0, b"pong\n"), result.stderr


def test_the_timeout_ends_a_fetch_from_a_server_that_never_answers(wget: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections (the kernel does) and never sends a byte
    try:
        result = subprocess.run([str(wget), "-T", "1", "-q", "-O", "-", f"http://127.0.0.1:{silent.getsockname()[1]}/"],
                                capture_output=True, timeout=20)
    finally:
        silent.close()
    assert result.returncode != 0 and result.stdout == b""


def test_a_timeout_that_is_not_whole_seconds_is_one_line_and_exit_2(wget: Path, server: str) -> None:
    result = subprocess.run([str(wget), "-T", "soon", server], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stderr.strip() == "wget: -T wants whole seconds, got 'soon'"
