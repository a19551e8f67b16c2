"""``kubebook schedule daemon``: call tick at the start of every minute until told to stop.

Each tick runs in its own thread, so a long run never delays the next minute's
schedules (the per-schedule locks keep the same schedule from overlapping).
The schedule file is re-read every minute, so edits apply without a restart; a
file that became invalid is logged and the last valid schedules keep running.

Shutdown: the first SIGTERM or SIGINT stops new ticks and waits for runs in
progress to finish (each leaves its report); a second signal stops waiting and
exits at once - the runs it abandons are recorded as interrupted by the next tick.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from kubebook.errors import KubebookError
from kubebook.schedule.scheduler import Scheduler, TickReport

log = logging.getLogger(__name__)


class Daemon:
    """The minute loop; ``make_scheduler`` re-reads schedules.yaml and is called once per tick."""

    def __init__(self, make_scheduler: Callable[[], Scheduler], *, on_report: Callable[[TickReport], None],
                 interval: float = 60.0) -> None:
        self.make_scheduler = make_scheduler
        self.on_report = on_report
        self.interval = interval
        self.stop = threading.Event()
        self.ticks: list[threading.Thread] = []
        self._scheduler: Scheduler | None = None
        self._signals = 0

    def handle_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            # Threads running notebooks cannot be interrupted, so leave at once: the OS frees the run
            # locks, each kernel exits when it sees its parent gone (JPY_PARENT_PID), and the next
            # tick records the abandoned runs as interrupted.
            log.warning("second %s: exiting without waiting for runs in progress", signal.Signals(signum).name)
            logging.shutdown()
            os._exit(128 + signum)
        log.info("%s received: no new ticks; waiting for runs in progress to finish", signal.Signals(signum).name)
        self.stop.set()

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.handle_signal)

    def run(self) -> int:
        """Loop until stopped; returns the exit code (0 after a clean shutdown)."""
        log.info("scheduler daemon started; ticking every %.0fs", self.interval)
        while not self.stop.is_set():
            self._start_tick()
            self.stop.wait(self._until_next())
        for tick in self.ticks:
            tick.join()
        log.info("scheduler daemon stopped cleanly")
        return 0

    def _until_next(self) -> float:
        """Seconds to the next interval boundary (minute boundaries for the default interval)."""
        now = time.time()
        return self.interval - (now % self.interval) + 0.05

    def _start_tick(self) -> None:
        self.ticks = [t for t in self.ticks if t.is_alive()]
        try:
            self._scheduler = self.make_scheduler()
        except KubebookError as error:
            if self._scheduler is None:
                raise
            log.error("schedules not reloaded, keeping the previous ones: %s", error)
        scheduler = self._scheduler
        now = datetime.now(UTC)
        thread = threading.Thread(target=self._tick, args=(scheduler, now), name=f"tick-{now:%H%M}", daemon=True)
        self.ticks.append(thread)
        thread.start()

    def _tick(self, scheduler: Scheduler, now: datetime) -> None:
        try:
            self.on_report(scheduler.tick(now))
        except KubebookError as error:
            log.error("tick at %s failed: %s", now.isoformat(), error)
        except Exception:
            log.exception("tick at %s crashed", now.isoformat())
