"""`kubebook capacity collect|forecast|rightsize`: a thin shell over kubebook.capacity.

``forecast --history FILE --json`` prints one JSON object with ``forecasts`` (the contract in
the README, "Capacity forecasting"). Bad input (a missing column, a negative number, a bad
flag value) is one line on stderr and exit 2, before anything is read from a cluster.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kubebook.cli.flags import add_target

STORE_HELP = ("history store folder (default: the cluster's own store, "
              "$KUBEBOOK_CAPACITY_DIR or ~/.local/share/kubebook/capacity, then /<cluster fingerprint>)")


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    collect = commands.add_parser("collect", help="append a snapshot (metrics.k8s.io) or a range (Prometheus) "
                                                  "to the local history store")
    add_target(collect)
    collect.add_argument("--prometheus", metavar="URL", default="",
                         help="read a range from this Prometheus HTTP API instead of metrics.k8s.io")
    collect.add_argument("--hours", type=float, default=24.0, help="Prometheus range in hours (default 24)")
    collect.add_argument("--step", type=float, default=300.0, help="Prometheus step in seconds (default 300)")
    collect.add_argument("--deadline", type=float, default=120.0,
                         help="Prometheus: seconds for the whole collection, both queries (default 120)")
    collect.add_argument("--max-body-mb", type=float, default=64.0,
                         help="Prometheus: largest answer read, in MiB (default 64)")
    collect.add_argument("--store", metavar="DIR", default="", help=STORE_HELP)
    collect.add_argument("--json", action="store_true", help="print what was appended as JSON")
    collect.set_defaults(handler=run_collect)

    forecast = commands.add_parser("forecast", help="days until cpu, memory and pod slots run out, with intervals")
    forecast.add_argument("--history", metavar="FILE", default="",
                          help="CSV or Parquet: timestamp, pool, resource, capacity, used [, basis]; "
                               "default: the history store")
    forecast.add_argument("--store", metavar="DIR", default="", help=STORE_HELP + " (when no --history)")
    add_target(forecast, kubeconfig_help="whose store to read when no --store/--history (default: the usual "
                                         "kubeconfig resolution)")
    forecast.add_argument("--horizon-days", type=float, default=90.0, help="how far to look (default 90)")
    forecast.add_argument("--min-history-days", type=float, default=3.0,
                          help="less history than this is 'insufficient_history' (default 3)")
    forecast.add_argument("--folds", type=int, default=3, help="rolling-origin backtest folds (default 3)")
    forecast.add_argument("--json", action="store_true", help="print one JSON object")
    forecast.set_defaults(handler=run_forecast)

    rightsize = commands.add_parser("rightsize", help="per-container request recommendations and savings")
    rightsize.add_argument("--samples", metavar="FILE", default="", help="CSV or Parquet samples "
                           "(see the README for the columns); default: the history store")
    rightsize.add_argument("--store", metavar="DIR", default="", help=STORE_HELP + " (when no --samples)")
    add_target(rightsize, kubeconfig_help="whose store to read when no --store/--samples (default: the usual "
                                          "kubeconfig resolution)")
    rightsize.add_argument("--strategy", choices=("simple", "vpa"), default="simple",
                           help="simple: KRR's (percentile CPU, peak+buffer memory); vpa: VPA recommender-style")
    rightsize.add_argument("--cpu-percentile", type=float, default=95.0, help="simple strategy (default 95)")
    rightsize.add_argument("--memory-buffer", type=float, default=15.0, help="percent over the peak (default 15)")
    rightsize.add_argument("--min-points", type=int, default=100, help="fewer samples: insufficient_history")
    rightsize.add_argument("--prices", metavar="JSON", default="",
                           help='per-pool prices as JSON, e.g. {"default": {"cpu_core_hour": 0.03, '
                                '"memory_gib_hour": 0.004}}')
    rightsize.add_argument("--json", action="store_true", help="print one JSON object")
    rightsize.set_defaults(handler=run_rightsize)

    load = commands.add_parser("load", help="local cluster: workloads whose KWOK-emulated usage follows trend, "
                                            "daily/weekly seasonality and noise, plus a memory leaker")
    add_target(load)
    load.add_argument("--namespace", default="capacity-load", help="namespace of the generated Deployments")
    load.add_argument("--workloads", type=int, default=4, help="seasonal workloads (the leaker comes on top)")
    load.add_argument("--ticks", type=int, default=20, help="how many usage updates, then stop (default 20)")
    load.add_argument("--interval", type=float, default=15.0, help="seconds between updates (default 15)")
    load.add_argument("--speed", type=float, default=240.0,
                      help="simulated seconds per real second (default 240: a day in 6 minutes)")
    load.set_defaults(handler=run_load)


def _store(folder: str, args: argparse.Namespace | None = None, target: Any = None) -> Any:
    """``--store`` as given (checked against ``target`` when there is one), else the store of the cluster
    ``args`` name (``--kubeconfig``/``--context``)."""
    from kubebook.capacity.store import HistoryStore

    if target is None and not folder:
        from kubebook.cli.flags import connect

        target = connect(args)
    return HistoryStore.open(target, folder)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by null: JSON has no NaN, and unknown is not a number."""
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(_finite(document), indent=2, default=str, allow_nan=False) + "\n")


def _days(value: Any) -> str:
    return "-" if value is None else value if isinstance(value, str) else f"{value:.1f}"


def _pair(interval: Any) -> str:
    return "-" if interval is None else f"[{_days(interval[0])}, {_days(interval[1])}]"


def run_forecast(args: argparse.Namespace) -> int:
    from kubebook.capacity import history, outlook
    from kubebook.capacity.forecast import Settings

    settings = Settings(horizon_days=args.horizon_days, min_history_days=args.min_history_days, folds=args.folds)
    settings.check()
    if args.history:
        found = history.load(args.history)
    else:
        store = _store(args.store, args)
        if not store.parts("series"):
            from kubebook.errors import ParameterError

            raise ParameterError(f"the history store {store.root} is empty",
                                 hint="run 'kubebook capacity collect' or pass --history FILE")
        found = history.load(store=store, min_days=args.min_history_days)
    result = outlook.outlook(found, settings)
    if args.json:
        _print_json(result.to_json())
        return 0
    print(result.summary)
    print(f"{'pool':<12} {'resource':<8} {'basis':<9} {'model':<16} {'days':>7} {'80% interval':>17} "
          f"{'95% interval':>17} {'MAPE%':>7} {'cover':>6}  status")
    for entry in (e.to_json() for e in result.entries):
        mape = "-" if entry["backtest_mape"] is None else f"{entry['backtest_mape']:.2f}"
        cover = "-" if entry["interval_coverage"] is None else f"{entry['interval_coverage']:.2f}"
        print(f"{entry['pool']:<12} {entry['resource']:<8} {entry['basis']:<9} {entry['model'] or '-':<16} "
              f"{_days(entry['days_to_exhaustion'] if entry['status'] == 'ok' else None):>7} "
              f"{_pair(entry['interval_80']):>17} {_pair(entry['interval_95']):>17} {mape:>7} {cover:>6}  "
              f"{entry['status']}{' (trend change)' if entry.get('trend_change') else ''}")
    return 0


def run_rightsize(args: argparse.Namespace) -> int:
    from kubebook.capacity import rightsize, schema
    from kubebook.capacity.cost import Prices
    from kubebook.errors import ParameterError

    try:
        prices = Prices.parse(json.loads(args.prices)) if args.prices else Prices()
    except ValueError as error:
        raise ParameterError(f"--prices is not JSON: {error}") from error
    settings = rightsize.Settings(strategy=args.strategy, cpu_percentile=args.cpu_percentile,
                                  memory_buffer_percent=args.memory_buffer, min_points=args.min_points)
    settings.check()
    if args.samples:
        samples = schema.read_samples(args.samples)
    else:
        store = _store(args.store, args)
        samples = store.read("samples")
        if len(samples) == 0:
            raise ParameterError(f"the history store {store.root} has no samples",
                                 hint="run 'kubebook capacity collect' or pass --samples FILE")
        samples = schema.validate_samples(samples)
    recommendations = rightsize.recommend(samples, settings, prices)
    if args.json:
        _print_json({"strategy": settings.strategy, "totals": rightsize.totals(recommendations),
                     "recommendations": [r.to_dict() for r in recommendations]})
        return 0
    print(f"{'namespace/workload/container':<44} {'status':<20} {'cpu now':>8} {'cpu rec':>8} "
          f"{'mem now':>9} {'mem rec':>9} {'save/mo':>8}")
    for r in recommendations:
        def gib(value: float | None) -> str:
            return "-" if value is None else f"{value / 2**30:.2f}Gi"

        def cores(value: float | None) -> str:
            return "-" if value is None else f"{value:.3f}"

        print(f"{r.namespace + '/' + r.workload + '/' + r.container:<44} {r.status:<20} {cores(r.cpu_request_now):>8} "
              f"{cores(r.cpu_request):>8} {gib(r.memory_request_now):>9} {gib(r.memory_request):>9} "
              f"{r.savings_per_month:>8.2f}")
    print("totals:", json.dumps(rightsize.totals(recommendations)))
    return 0


def run_collect(args: argparse.Namespace) -> int:
    from kubebook.capacity import collect
    from kubebook.cli.flags import connect

    if args.prometheus and not args.prometheus.startswith(("http://", "https://")):
        from kubebook.errors import ParameterError

        raise ParameterError(f"--prometheus {args.prometheus!r} must be an http:// or https:// URL")
    if not 0 < args.deadline <= 3600 or not 0.001 <= args.max_body_mb <= 4096:
        from kubebook.errors import ParameterError

        raise ParameterError("--deadline must be in (0, 3600] seconds and --max-body-mb in [0.001, 4096]")
    target = connect(args)
    summary = collect.collect(target, _store(args.store, target=target), prometheus=args.prometheus,
                              hours=args.hours, step_seconds=args.step, deadline_seconds=args.deadline,
                              max_body_bytes=int(args.max_body_mb * 2**20))
    if args.json:
        _print_json(summary)
    else:
        print(f"appended {summary['samples']} samples and {summary['series']} series rows "
              f"from {summary['source']} to {summary['store']}")
    return 0


def run_load(args: argparse.Namespace) -> int:
    import time

    from kubebook.capacity import loadgen
    from kubebook.cli.flags import connect
    from kubebook.errors import ParameterError

    if args.ticks < 1 or args.interval <= 0 or args.speed <= 0:
        raise ParameterError("--ticks must be >= 1, --interval and --speed > 0")
    workloads = loadgen.plan(args.workloads)
    target = connect(args)
    loadgen.apply(target, args.namespace, workloads)
    state, started = loadgen.LoadState(), time.monotonic()
    for _ in range(args.ticks):
        simulated = (time.monotonic() - started) * args.speed
        result = loadgen.tick(target, args.namespace, workloads, state, simulated)
        print(f"tick {result['tick']}: {result['pods']} pods updated, simulated {simulated / 3600:.1f} h, "
              f"OOM kills so far {state.oom_kills}", flush=True)
        time.sleep(args.interval)
    return 0
