"""The local history store of one cluster: a folder of Parquet parts per table, appended to, read back whole.

Why parts: a scheduled ``capacity collect`` appends a few hundred rows every few minutes; one
new Parquet file per append is atomic (written to a temporary name, then renamed), needs no lock
against readers and never rewrites old data. ``compact()`` merges parts when there are many.
Reading drops exact duplicate rows, so a collection retried after a failure costs nothing.

Why one store per cluster: history of two clusters in one folder is one history to the
forecast (the pods of one, the capacity of the other). The default root is keyed by the
cluster's identity (:meth:`kubebook.cluster.Cluster.fingerprint`: the API server URL and
kube-system's UID), ``<base>/<fingerprint>``, where ``<base>`` is ``$KUBEBOOK_CAPACITY_DIR``, else
``$KUBEBOOK_DATA_DIR/capacity`` (``~/.local/share/kubebook/capacity``). Every history file names
its cluster: ``cluster.json`` in the root (fingerprint, server, context), and each part has the
fingerprint in its name and in its Parquet metadata (``kubebook.cluster``). An explicit folder
(``--store``) is checked the same way: appending one cluster's samples to another's store, or
reading a store whose parts name different clusters, is a one-line error.

Layout: ``<root>/series/part-<utc>-<n>-<pid>-<fingerprint>.parquet`` and ``<root>/samples/part-...``
with the columns of :mod:`kubebook.capacity.schema`.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kubebook.capacity.schema import validate_samples, validate_series
from kubebook.errors import ParameterError

TABLES = ("series", "samples")
MARKER = "cluster.json"
METADATA_KEY = b"kubebook.cluster"
_FINGERPRINT = re.compile(r"^[0-9a-f]{8,64}$")


@dataclass(frozen=True)
class Identity:
    """Which cluster a history belongs to: the fingerprint, and the server and context for people."""

    fingerprint: str
    server: str = ""
    context: str = ""

    @classmethod
    def of(cls, cluster: Any) -> Identity:
        """The identity of a connected :class:`kubebook.cluster.Cluster` (one API call, cached there)."""
        fingerprint = str(cluster.fingerprint())
        if not _FINGERPRINT.match(fingerprint):
            raise ParameterError(f"cluster fingerprint {fingerprint!r} is not a hex digest")
        return cls(fingerprint, str(getattr(cluster, "server", "") or ""), str(getattr(cluster, "context", "") or ""))


def base_dir() -> Path:
    """Where the per-cluster stores live: ``$KUBEBOOK_CAPACITY_DIR``, else ``<kubebook data dir>/capacity``."""
    from kubebook.localcluster.paths import data_dir

    env = os.environ.get("KUBEBOOK_CAPACITY_DIR")
    return Path(env).expanduser() if env else data_dir() / "capacity"


def default_root(fingerprint: str) -> Path:
    """The store of the cluster with this fingerprint: ``<base>/<fingerprint>``."""
    if not _FINGERPRINT.match(fingerprint):
        raise ParameterError(f"cluster fingerprint {fingerprint!r} is not a hex digest")
    return base_dir() / fingerprint


class HistoryStore:
    """Append-only Parquet history of ``series`` and ``samples`` rows of one cluster."""

    def __init__(self, root: str | os.PathLike[str] | None = None, identity: Identity | None = None) -> None:
        if not root and identity is None:
            raise ParameterError("a capacity history store needs a folder or a cluster",
                                 hint="pass --store DIR, or a cluster (its store is keyed by its identity)")
        self.identity = identity
        self.root = Path(root).expanduser() if root else default_root(identity.fingerprint)  # type: ignore[union-attr]

    @classmethod
    def open(cls, cluster: Any = None, folder: str | os.PathLike[str] | None = "") -> HistoryStore:
        """The store for ``cluster`` (its own folder, or ``folder`` checked against it), or ``folder`` alone."""
        identity = Identity.of(cluster) if cluster is not None else None
        store = cls(folder or None, identity)
        store.check()
        return store

    def recorded(self) -> Identity | None:
        """The cluster ``cluster.json`` names, None for a store without one (new, or from an older kubebook)."""
        marker = self.root / MARKER
        if not marker.is_file():
            return None
        try:
            data = json.loads(marker.read_text())
            return Identity(str(data["fingerprint"]), str(data.get("server", "")), str(data.get("context", "")))
        except (ValueError, KeyError, TypeError, OSError) as error:
            raise ParameterError(f"{marker} is not a kubebook cluster marker ({error.__class__.__name__})",
                                 hint="it names the cluster this history belongs to; restore or remove it") from error

    def check(self) -> None:
        """A one-line error when this store belongs to another cluster than ours."""
        recorded = self.recorded()
        if recorded and self.identity and recorded.fingerprint != self.identity.fingerprint:
            raise ParameterError(f"the history store {self.root} belongs to cluster {recorded.fingerprint} "
                                 f"({recorded.server or 'unknown server'}), not to {self.identity.fingerprint} "
                                 f"({self.identity.server or 'this cluster'})",
                                 hint="omit --store to use this cluster's own store, or pass another folder")

    def _mark(self) -> None:
        if self.identity is None or self.recorded() is not None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f".{MARKER}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(asdict(self.identity), indent=2) + "\n")
        os.replace(temporary, self.root / MARKER)

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
        import pyarrow as pa
        import pyarrow.parquet as pq

        clean = validate_series(frame) if table == "series" else validate_samples(frame)
        self.check()
        self._mark()
        owner = (self.identity or self.recorded() or Identity("")).fingerprint
        folder = self._folder(table)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        n = len(self.parts(table))
        target = folder / f"part-{stamp}-{n:06d}-{os.getpid()}{'-' + owner if owner else ''}.parquet"
        temporary = folder / f".{target.name}.tmp"
        arrow = pa.Table.from_pandas(clean, preserve_index=False)
        if owner:
            arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), METADATA_KEY: owner.encode()})
        pq.write_table(arrow, temporary)
        os.replace(temporary, target)
        return target

    def owners(self, table: str) -> set[str]:
        """The fingerprints the parts of ``table`` name ('' for a part written before parts named their cluster)."""
        import pyarrow.parquet as pq

        found = set()
        for part in self.parts(table):
            metadata = pq.read_schema(part).metadata or {}
            found.add(metadata.get(METADATA_KEY, b"").decode())
        return found

    def read(self, table: str) -> Any:
        """Every row of ``table`` (duplicates dropped, sorted by time); an empty frame when there is none."""
        import pandas as pd

        parts = self.parts(table)
        if not parts:
            return pd.DataFrame()
        named = self.owners(table) - {""}
        expected = {i.fingerprint for i in (self.identity, self.recorded()) if i is not None}
        if len(named) > 1 or (expected and named - expected):
            raise ParameterError(f"the history store {self.root} mixes clusters ({', '.join(sorted(named))}) "
                                 f"in {table}", hint="each cluster needs its own store; move the other parts out")
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
