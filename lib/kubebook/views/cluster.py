"""Tables and charts for cluster-info and the cluster overview: pools, capacity, components, namespaces.

The overview's frames and headline are :mod:`kubebook.overview`'s (an :class:`~kubebook.overview.OverviewReport`);
these functions draw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kubebook.inventory import Namespace, Node, Pod
from kubebook.views import Html, headline, headline_view

if TYPE_CHECKING:  # what is drawn here
    import pandas as pd

    from kubebook.overview import OverviewReport

NODE_COLUMNS = list(Node._fields)
POD_COLUMNS = list(Pod._fields)
NAMESPACE_COLUMNS = list(Namespace._fields)


def capacity_figure(capacity: pd.DataFrame | OverviewReport) -> Any:
    """Grouped bars: allocatable against requested CPU per node (an overview's capacity frame)."""
    if hasattr(capacity, "headline"):  # an OverviewReport: its capacity frame
        capacity = capacity.capacity
    from kubebook.views import ensure_plotly

    ensure_plotly()
    import plotly.graph_objects as go

    figure = go.Figure()
    figure.add_bar(name="allocatable CPU", x=capacity["name"], y=capacity["cpu"])
    figure.add_bar(name="requested CPU", x=capacity["name"], y=capacity["cpu_requested"])
    figure.update_layout(barmode="group", title="CPU: allocatable against requested, per node",
                         yaxis_title="cores", xaxis_title="node")
    return figure


def info_headline(info: Any) -> Html:
    """cluster-info's headline as kubebook.inventory decided it (a ClusterInfo's headline)."""
    return headline_view(info.headline)


def cluster_headline(server: str, version: str, nodes: Sequence[Node], namespaces: Sequence[Namespace]) -> Html:
    """cluster-info's headline: the server version, Ready nodes of all, namespaces.

    Deprecated (it decides the tone itself): the runbook should draw ``info_headline(info)``.
    """
    ready = sum(1 for n in nodes if n.ready)
    unlabelled = sum(1 for ns in namespaces if not ns.enforce)
    return headline("API server " + server, version, tone="good" if ready == len(nodes) else "warn",
                    change=f"{ready}/{len(nodes)} node(s) Ready, {len(namespaces)} namespace(s)",
                    note=f"{unlabelled} namespace(s) without a Pod Security enforce label" if unlabelled else "")


def overview_headline(report: OverviewReport) -> Html:
    """The overview's headline (unhealthy components, Ready nodes, CPU requested), as kubebook.overview decided."""
    return headline_view(report.headline)
