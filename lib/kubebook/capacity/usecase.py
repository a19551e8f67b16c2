"""The capacity use cases as the runbooks call them: one function per step, each composing the engines once.

The forecast runbook used to compose the engines in its cells (a store opened only when no history
file was named, settings built, prices parsed twice, the inventory turned into pool capacity inline);
those compositions live here, so a cell passes its parameters in and draws or records what comes back.
The forecast itself is :func:`kubebook.capacity.outlook.outlook`, the face the CLI calls too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubebook.capacity.history import History
from kubebook.capacity.outlook import Outlook


def capacity_collect(target: Any, *, store: str = "", prometheus: str = "", hours: float = 1,
                     step_seconds: float = 60) -> dict[str, Any]:
    """One collection from ``target`` into its history store (``store`` empty: the cluster's own store)."""
    from kubebook.capacity import collect
    from kubebook.capacity.store import HistoryStore

    return collect.collect(target, HistoryStore.open(target, store), prometheus=prometheus, hours=hours,
                           step_seconds=step_seconds)


def capacity_history(target: Any, *, history: str = "", samples: str = "", store: str = "",
                     min_history_days: float = 3, synthetic_fallback: bool = False) -> History:
    """The history to forecast: the files named (``history``, ``samples``), else ``target``'s store."""
    from kubebook.capacity import history as histories
    from kubebook.capacity.store import HistoryStore

    opened = None if history else HistoryStore.open(target, store)
    return histories.load(history, samples, opened, min_history_days, synthetic_fallback)


def capacity_forecast(found: History, *, horizon_days: float = 90, min_history_days: float = 3) -> Outlook:
    """The forecast outlook of ``found`` (status, entries, the soonest exhaustion and the cone to draw)."""
    from kubebook.capacity.forecast import Settings
    from kubebook.capacity.outlook import outlook

    return outlook(found, Settings(horizon_days=horizon_days, min_history_days=min_history_days))


@dataclass(frozen=True)
class RightsizingReport:
    """What each container should request, and the savings in total."""

    recommendations: list[Any]
    savings: dict[str, Any]


def capacity_rightsizing(samples: Any, *, strategy: str = "simple",
                         prices: dict[str, Any] | None = None) -> RightsizingReport:
    """Rightsizing of every container in ``samples`` with ``strategy`` (simple or vpa), priced by ``prices``."""
    from kubebook.capacity.cost import Prices
    from kubebook.capacity.rightsize import Settings, recommend, totals

    recommendations = recommend(samples, Settings(strategy=strategy), Prices.parse(prices or {}))
    return RightsizingReport(recommendations, totals(recommendations))


@dataclass(frozen=True)
class NodesReport:
    """Nodes needed per pool (``plan``) and each pool's allocatable (cores, bytes) for the cost model."""

    plan: dict[str, Any]
    pool_capacity: dict[str, tuple[float, float]]


def capacity_nodes(target: Any, entries: list[Any], *, growth_days: float = 30) -> NodesReport:
    """Bin-packing of ``target``'s requests into its pools, now and grown by the forecast ``growth_days`` ahead."""
    from kubebook.capacity import collect
    from kubebook.capacity import history as histories
    from kubebook.capacity.binpack import recommend_nodes

    inv = collect.inventory(target)
    plan = recommend_nodes(histories.cluster_shapes(inv), histories.cluster_demands(inv),
                           growth=histories.growth(entries, days=growth_days))
    return NodesReport(plan, {name: (c["cpu"], c["memory"]) for name, c in inv.pool_capacity().items()})


@dataclass(frozen=True)
class CostReport:
    """The OpenCost-style allocation by namespace and by team (each with its idle cost per pool)."""

    by_namespace: dict[str, Any]
    by_team: dict[str, Any]


def capacity_cost(samples: Any, pool_capacity: dict[str, tuple[float, float]],
                  prices: dict[str, Any] | None = None) -> CostReport:
    """Cost of ``samples`` by namespace and by team over the pools' capacity, priced by ``prices``."""
    from kubebook.capacity.cost import Prices, allocate

    parsed = Prices.parse(prices or {})
    return CostReport(allocate(samples, pool_capacity, parsed, by="namespace"),
                      allocate(samples, pool_capacity, parsed, by="team"))
