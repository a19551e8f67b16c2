"""The local history store: a folder of Parquet parts per table, appended to, read back whole.

Why parts: a scheduled ``capacity collect`` appends a few hundred rows every few minutes; one
new Parquet file per append is atomic (written to a temporary name, then renamed), needs no lock
against readers and never rewrites old data. ``compact()`` merges parts when there are many.
Reading drops exact duplicate rows, so a collection retried after a failure costs nothing.

Layout: ``<root>/series/part-<utc>-<n>.parquet`` and ``<root>/samples/part-...`` with the columns
of :mod:`kubebook.capacity.schema`. Default root: ``$KUBEBOOK_CAPACITY_DIR``, else
``$KUBEBOOK_DATA_DIR/capacity/<cluster name>`` (default ``~/.local/share/kubebook/capacity/default``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from kubebook.capacity.schema import validate_samples, validate_series
from kubebook.errors import ParameterError

TABLES = ("series", "samples")


def default_root(cluster_name: str = "default") -> Path:
    """``$KUBEBOOK_CAPACITY_DIR``, else ``<kubebook data dir>/capacity/<cluster>`` (``$KUBEBOOK_DATA_DIR`` aware)."""
    from kubebook.localcluster.paths import data_dir

    env = os.environ.get("KUBEBOOK_CAPACITY_DIR")
    if env:
        return Path(env).expanduser()
    return data_dir() / "capacity" / cluster_name


class HistoryStore:
    """Append-only Parquet history of ``series`` and ``samples`` rows."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root else default_root()

    def _folder(self, table: str) -> Path:
        if table not in TABLES:
            raise ParameterError(f"unknown history table {table!r}; tables: {', '.join(TABLES)}")
        return self.root / table

    def parts(self, table: str) -> list[Path]:
        folder = self._folder(table)
        return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []

    def append(self, table: str, frame: Any) -> Path | None:
        """Write ``frame`` (validated first) as a new part; None for an empty frame."""
        if frame is None or len(frame) == 0:
            return None
        clean = validate_series(frame) if table == "series" else validate_samples(frame)
        folder = self._folder(table)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        n = len(self.parts(table))
        target = folder / f"part-{stamp}-{n:06d}-{os.getpid()}.parquet"
        temporary = folder / f".{target.name}.tmp"
        clean.to_parquet(temporary, index=False)
        os.replace(temporary, target)
        return target

    def read(self, table: str) -> Any:
        """Every row of ``table`` (duplicates dropped, sorted by time); an empty frame when there is none."""
        import pandas as pd

        parts = self.parts(table)
        if not parts:
            return pd.DataFrame()
        frame = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True).drop_duplicates()
        return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)

    def compact(self, table: str) -> int:
        """Merge every part of ``table`` into one; returns how many parts were merged."""
        parts = self.parts(table)
        if len(parts) < 2:
            return 0
        merged = self.read(table)
        written = self.append(table, merged)
        for part in parts:
            if part != written:
                part.unlink()
        return len(parts)
