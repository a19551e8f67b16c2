"""Throughput of the scheduler's suite run against bare sequential papermill, measured in one process.

The suite is the eight small runbooks in benchmarks/fixtures/suite/. The
baseline executes them one after another with ``papermill.execute_notebook``
(papermill already imported, as in a warm Python process). The contender is
what ``kubebook schedule run-all`` does: load and validate a schedules.yaml
naming the eight, then ``Scheduler.run_all()`` - parallel worker processes
(one per core) that each run full kubebook runs (parameter validation, papermill,
redaction, secret scan, HTML report, sealed archive folder, ledger entry).
Pool start-up and validation are inside the measured time.

Target: scheduler throughput >= 1.5x the baseline. Prints both times and the ratio
(best of ``--rounds`` for each, alternating, because the machine is shared and noisy).

    .venv/bin/python benchmarks/run_overhead_suite.py [--rounds 3] [--parallel N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SUITE = sorted((ROOT / "fixtures" / "suite").glob("*.ipynb"))
TARGET = 1.5


def baseline(out: Path) -> float:
    """Bare papermill, one notebook after another."""
    import papermill

    start = time.perf_counter()
    for notebook in SUITE:
        papermill.execute_notebook(str(notebook), str(out / notebook.name), progress_bar=False,
                                   cwd=str(notebook.parent))
    return time.perf_counter() - start


def schedules_file(folder: Path) -> Path:
    lines = ["version: 1", "defaults:", "  timeout: 600", "schedules:"]
    for notebook in SUITE:
        lines += [f"  - name: {notebook.stem.split('-', 1)[1]}", f"    notebook: {notebook}",
                  "    cron: '*/15 * * * *'"]
    path = folder / "schedules.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def scheduled(folder: Path, parallel: int | None) -> float:
    """What `kubebook schedule run-all` does, timed from reading schedules.yaml to the last archived run."""
    from kubebook.schedule import Scheduler, load_schedules

    start = time.perf_counter()
    schedules = load_schedules(schedules_file(folder))
    results = Scheduler(schedules, archive=folder / "reports", parallel=parallel).run_all()
    elapsed = time.perf_counter() - start
    failed = [r.schedule for r in results if r.status != "succeeded"]
    if failed:
        raise SystemExit(f"benchmark invalid: scheduled runs did not succeed: {failed}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=None, help="scheduler parallelism (default: CPU cores)")
    parser.add_argument("--cold", action="store_true", help="scheduler without warm kernels (an ablation)")
    args = parser.parse_args()
    if args.cold:
        os.environ["KUBEBOOK_WARM_KERNELS"] = "0"
    if len(SUITE) != 8:
        raise SystemExit(f"expected 8 suite notebooks in {ROOT / 'fixtures' / 'suite'}, found {len(SUITE)}")
    import papermill  # noqa: F401 - imported before timing: the baseline gets a warm interpreter

    bare, sched = [], []
    with tempfile.TemporaryDirectory(prefix="kubebook-bench-") as tmp:
        for round_no in range(args.rounds):
            folder = Path(tmp) / f"round{round_no}"
            (folder / "bare").mkdir(parents=True)
            bare.append(baseline(folder / "bare"))
            sched.append(scheduled(folder, args.parallel))
            print(f"round {round_no + 1}: papermill sequential {bare[-1]:.2f}s, scheduler run-all {sched[-1]:.2f}s",
                  flush=True)
    best_bare, best_sched = min(bare), min(sched)
    ratio = best_bare / best_sched
    print(f"cores: {os.cpu_count()}, suite: {len(SUITE)} notebooks, rounds: {args.rounds}, "
          f"warm kernels: {'off' if args.cold else 'on'}")
    print(f"papermill sequential: best {best_bare:.2f}s (median {statistics.median(bare):.2f}s)")
    print(f"scheduler run-all:    best {best_sched:.2f}s (median {statistics.median(sched):.2f}s)")
    print(f"throughput ratio (scheduler / papermill): {ratio:.2f}x best-to-best, "
          f"{statistics.median(bare) / statistics.median(sched):.2f}x median-to-median (target >= {TARGET}x)")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
