"""The capacity history schema: two tables, their columns, and reading them from CSV or Parquet.

Why a fixed schema: forecasts, rightsizing and cost allocation are computed long after the
samples were taken, often from history written by an older kubebook or by another tool (a
Prometheus export, a spreadsheet). A small documented column set, checked on read with a
one-line error naming the column, is what keeps that history usable.

``series`` (what the forecast reads; the ``--history`` CSV of ``kubebook capacity forecast``):

============  ==========================================================================
timestamp     ISO 8601, UTC (a naive time is taken as UTC)
pool          node pool name; ``*`` is the whole cluster
resource      ``cpu`` (cores), ``memory`` (bytes) or ``pods`` (count)
capacity      allocatable of the pool at that time, same unit
used          usage (or requested amount, see basis) at that time, same unit
basis         optional: ``usage`` (default) or ``requests``
============  ==========================================================================

``samples`` (what rightsizing and cost allocation read; one row per container and time):

==============  ========================================================================
timestamp       UTC
namespace       pod namespace
workload        owner name (Deployment/StatefulSet/DaemonSet/Job, else the pod's name)
container       container name
pod             pod name (pods come and go; workload + container is the identity)
pool            pool of the node the pod ran on ('' when unknown)
team            the pod's ``team`` label ('' when absent)
cpu_cores       CPU usage in cores (a rate, never a counter)
memory_bytes    working-set memory in bytes
cpu_request     requested cores (NaN when unset); likewise cpu_limit
memory_request  requested bytes (NaN when unset); likewise memory_limit
oom_killed      true when the container's last termination was OOMKilled at that time
                (true/false, 1/0, yes/no; anything else is an error)
==============  ========================================================================

Bounds (every row, checked before anything is computed or stored): timestamps between
``EARLIEST`` (2000-01-01) and one day after now; numbers finite, not negative and at most
``MAX_VALUE`` (2**62: 4 EiB, 4.6e18 cores); ``capacity`` present in every series row. A usage
value that is missing (an empty cell) is a gap, not an error: the forecast interpolates it and
rightsizing skips it and counts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubebook.errors import ParameterError

RESOURCES = ("cpu", "memory", "pods")
BASES = ("usage", "requests")
ALL_POOLS = "*"
EARLIEST = "2000-01-01T00:00:00Z"
FUTURE_SLACK_DAYS = 1.0
MAX_VALUE = float(2**62)
_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "", "0.0", "nan", "none"}

SERIES_COLUMNS = ("timestamp", "pool", "resource", "capacity", "used")
SERIES_OPTIONAL = {"basis": "usage"}
SAMPLE_COLUMNS = ("timestamp", "namespace", "workload", "container", "cpu_cores", "memory_bytes")
SAMPLE_OPTIONAL: dict[str, Any] = {
    "pod": "", "pool": "", "team": "", "cpu_request": float("nan"), "cpu_limit": float("nan"),
    "memory_request": float("nan"), "memory_limit": float("nan"), "oom_killed": False,
}


def read_table(path: str | Path) -> Any:
    """A CSV or Parquet file as a DataFrame (by suffix); a missing or unreadable file is a ParameterError."""
    import pandas as pd

    file = Path(path).expanduser()
    if not file.is_file():
        raise ParameterError(f"history file {file} does not exist", hint="pass a CSV or Parquet file")
    try:
        if file.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(file)
        return pd.read_csv(file)
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise ParameterError(f"history file {file} could not be read: {str(error).splitlines()[0]}",
                             hint="CSV with a header row, or Parquet") from error


def _require(frame: Any, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ParameterError(f"{what} lacks column(s) {', '.join(missing)}",
                             hint=f"expected columns: {', '.join(columns)}")


def time_window() -> tuple[Any, Any]:
    """The timestamps a history may hold: from ``EARLIEST`` to one day after now (clock skew, not the future)."""
    import time

    import pandas as pd

    latest = pd.Timestamp(time.time(), unit="s", tz="UTC") + pd.Timedelta(days=FUTURE_SLACK_DAYS)
    return pd.Timestamp(EARLIEST), latest


def _timestamps(frame: Any, what: str) -> Any:
    import pandas as pd

    column = frame["timestamp"]
    if isinstance(column.dtype, pd.DatetimeTZDtype):  # already parsed (Parquet, a DataFrame): no re-parsing
        stamps = column.dt.tz_convert("UTC")
        raw = stamps
    else:
        raw = column
        try:
            stamps = pd.to_datetime(column, utc=True, format="ISO8601")
        except (ValueError, TypeError, OverflowError) as error:
            raise ParameterError(f"{what}: a timestamp is not ISO 8601 or not a date ({str(error).splitlines()[0]})",
                                 hint="write times like 2026-11-28T18:00:00Z") from error
    if stamps.isna().any():
        row = int(stamps.isna().to_numpy().argmax())
        raise ParameterError(f"{what}: timestamp missing in data row {row + 1}")
    earliest, latest = time_window()
    outside = (stamps < earliest) | (stamps > latest)
    if outside.any():
        row = int(outside.to_numpy().argmax())
        raise ParameterError(f"{what}: timestamp {raw.iloc[row]} in data row {row + 1} is outside "
                             f"{earliest:%Y-%m-%d} .. {latest:%Y-%m-%dT%H:%MZ}",
                             hint="history times are UTC and no later than now")
    return stamps.dt.as_unit("ns")


def epoch_seconds(stamps: Any) -> Any:
    """Seconds since 1970 of a datetime column or index, whatever its resolution (pandas 3 keeps ``us``)."""
    import numpy as np

    values = stamps.dt.as_unit("ns") if hasattr(stamps, "dt") else stamps.as_unit("ns")
    return np.asarray(values.astype("int64"), dtype=float) / 1e9


def _text(column: Any) -> Any:
    """A text column with '' for missing values (skips the costly conversion when it is text already)."""
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):  # compact for millions of rows: keep it
        if column.isna().any():
            column = column.cat.add_categories([""]).fillna("") if "" not in column.cat.categories \
                else column.fillna("")
        return column
    if column.isna().any():
        column = column.fillna("")
    return column if pd.api.types.is_string_dtype(column) else column.astype(str)


def _numbers(frame: Any, column: str, what: str, required: bool = False) -> Any:
    """A float column: numbers only, finite, 0..MAX_VALUE; empty cells stay NaN unless ``required``."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column]):
        values = frame[column].astype(float)
    else:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna() & (frame[column].astype(str).str.strip() != "")
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise ParameterError(f"{what}: column {column} has a non-number {frame[column].iloc[row]!r} "
                                 f"in data row {row + 1}")
        values = values.astype(float)
    array = values.to_numpy(dtype=float)
    checks = ((np.isinf(array), "has a non-finite value {value!r}", "write a finite number"),
              (array < 0, "is negative", "usage, requests and capacity are >= 0"),
              (array > MAX_VALUE, "is out of range ({value:g})", f"at most {MAX_VALUE:g}"))
    if required:
        checks = ((np.isnan(array), "is empty", "every row needs it"), *checks)
    for mask, problem, hint in checks:
        if mask.any():
            row = int(mask.argmax())
            raise ParameterError(f"{what}: column {column} {problem.format(value=array[row])} in data row {row + 1}",
                                 hint=hint)
    return values


def _booleans(column: Any, what: str) -> Any:
    """``oom_killed`` as bools, strictly: a typo such as ``maybe`` is an error, never a silent true."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):
        return column.astype(bool)
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise ParameterError(f"{what}: column oom_killed has {column.iloc[row]!r} in data row {row + 1}",
                             hint="write true or false (1/0, yes/no)")
    return text.isin(_TRUE)


def validate_series(frame: Any, what: str = "history") -> Any:
    """A clean ``series`` frame (typed, sorted, duplicate times averaged), or a one-line ParameterError."""
    _require(frame, SERIES_COLUMNS, what)
    if frame.empty:
        raise ParameterError(f"{what} has no rows", hint="collect some history first: kubebook capacity collect")
    out = frame.copy()
    for column, default in SERIES_OPTIONAL.items():
        if column not in out.columns:
            out[column] = default
    out["timestamp"] = _timestamps(out, what)
    for column in ("pool", "resource", "basis"):
        out[column] = _text(out[column]).str.strip()
    out["resource"] = out["resource"].str.lower()
    out["basis"] = out["basis"].str.lower().replace("", "usage")
    for column, allowed in (("resource", RESOURCES), ("basis", BASES)):
        bad = ~out[column].isin(allowed)
        if bad.any():
            raise ParameterError(f"{what}: {column} {out[column][bad].iloc[0]!r} is not one of "
                                 f"{', '.join(allowed)}")
    if (out["pool"] == "").any():
        raise ParameterError(f"{what}: a row has an empty pool", hint=f"name the node pool, or {ALL_POOLS!r}")
    out["capacity"] = _numbers(out, "capacity", what, required=True)
    out["used"] = _numbers(out, "used", what)
    out = out.dropna(subset=["used"])
    keys = ["pool", "resource", "basis", "timestamp"]
    out = out.groupby(keys, as_index=False, sort=True)[["capacity", "used"]].mean()
    return out[["timestamp", "pool", "resource", "basis", "capacity", "used"]]


def validate_samples(frame: Any, what: str = "samples") -> Any:
    """A clean ``samples`` frame (typed, optional columns filled), or a one-line ParameterError."""
    _require(frame, SAMPLE_COLUMNS, what)
    out = frame.copy()
    for column, default in SAMPLE_OPTIONAL.items():
        if column not in out.columns:
            out[column] = default
    out["timestamp"] = _timestamps(out, what)
    for column in ("namespace", "workload", "container", "pod", "pool", "team"):
        out[column] = _text(out[column])
    for column in ("cpu_cores", "memory_bytes"):
        out[column] = _numbers(out, column, what)
    for column in ("cpu_request", "cpu_limit", "memory_request", "memory_limit"):
        out[column] = _numbers(out, column, what)
    out["oom_killed"] = _booleans(out["oom_killed"], what)
    if out["timestamp"].is_monotonic_increasing:
        return out.reset_index(drop=True)
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def empty_samples() -> Any:
    """A ``samples`` frame with every column and no rows (a store without samples yet)."""
    import pandas as pd

    numeric = {"cpu_cores", "memory_bytes", "cpu_request", "cpu_limit", "memory_request", "memory_limit"}
    columns = {c: pd.Series(dtype="float64" if c in numeric else "bool" if c == "oom_killed" else
                            "datetime64[ns, UTC]" if c == "timestamp" else "str")
               for c in (*SAMPLE_COLUMNS, *SAMPLE_OPTIONAL)}
    return validate_samples(pd.DataFrame(columns))


def read_series(path: str | Path) -> Any:
    """Read and validate a ``series`` history file (CSV or Parquet)."""
    return validate_series(read_table(path), what=f"history {Path(path).name}")


def read_samples(path: str | Path) -> Any:
    """Read and validate a ``samples`` history file (CSV or Parquet)."""
    return validate_samples(read_table(path), what=f"samples {Path(path).name}")
