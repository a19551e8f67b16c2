"""SIGTERM and SIGINT during a run: stop the kernel, archive an ``interrupted`` report, clean up.

Without this a signal killed ``kubebook run`` where it stood: no report, and the
private temporary folder (the secret sink and the kernel's log, both holding
secret values) left behind. While a run is in progress the handlers below only
ask the kernel watch to kill the kernel; nbclient then sees a dead kernel within
a second, the run is classified ``interrupted`` and archived as usual, and the
temporary folder is removed on the normal path. A second signal while the
report is being written is ignored: the report is what the first one asked for.

Handlers can only be installed from the main thread; runs started by the
scheduler's worker threads rely on the scheduler's own signal handling.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubebook.runner.kernel import KernelWatch

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals(watch: KernelWatch) -> Iterator[None]:
    """Within the block, SIGTERM/SIGINT kill the run's kernel instead of the runner."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        del frame
        watch.interrupt(signum)

    for number in SIGNALS:
        previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)

