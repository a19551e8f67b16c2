"""Headline tones are the engines' verdicts: the capacity runway's urgency and an outlook without a number."""

from __future__ import annotations

from kubebook.capacity import forecast, headline
from kubebook.capacity.outlook import Outlook
from kubebook.views import TONES
from kubebook.views import capacity as view


def test_the_runway_tone_is_decided_by_the_capacity_engine() -> None:
    assert [headline.tone(d) for d in (5, 29.9, 30, 89, 90, 400)] == ["bad", "bad", "warn", "warn", "good", "good"]


def test_an_outlook_without_a_number_is_amber_never_green_and_the_view_draws_that() -> None:
    empty = Outlook("no_data", [], forecast.Settings(), 0.0, "test")
    assert empty.headline.tone == "warn" and empty.headline.value == "no_data"
    drawn = view.outlook_headline(empty)
    assert TONES["warn"] in drawn.html and TONES["good"] not in drawn.html


def test_cluster_info_headline_is_decided_by_the_inventory_and_says_the_same_as_before() -> None:
    from kubebook.inventory import ClusterInfo, Namespace, Node
    from kubebook.views import cluster

    fields = {"name": "a", "pool": "p", "ready": False, "cpu": 1.0, "memory_gib": 1.0, "pods": 1, "taints": ""}
    node = Node(**fields)
    spaces = [Namespace(*[None] * len(Namespace._fields))]
    info = ClusterInfo("https://x", {"gitVersion": "v1.31.0"}, [node], spaces)
    assert info.headline.tone == "warn", "a node not Ready is not green"
    assert info.headline.value == "v1.31.0"
    assert cluster.info_headline(info).plain == cluster.cluster_headline("https://x", "v1.31.0", [node], spaces).plain
