"""The DR views draw a drill's result: headline against targets, timeline, tables."""

from __future__ import annotations

from kubebook.dr import outcome as decide
from kubebook.dr.restore import Outcome
from kubebook.views import dr as view

RESULT = {
    "cluster": "c", "topology": "single", "status": "passed", "expected": 10, "restored": 10, "lost": [],
    "created_after_snapshot": [{"kind": "ConfigMap", "namespace": "default", "name": "p"}], "rpo_objects": 1,
    "rto_seconds": 12.5, "per_kind": [{"kind": "ConfigMap", "expected": 10, "restored": 10, "lost": 0,
                                       "created_after_snapshot": 1}],
    "timeline": [{"at": 0.5, "phase": "snapshot", "what": "snapshot x"}, {"at": 1.0, "phase": "disaster",
                                                                          "what": "declared"},
                 {"at": 13.5, "phase": "verify", "what": "10 of 10 back"}],
}


def test_targets_say_which_are_met() -> None:
    rows = view.verdict_rows(decide.targets(12.5, 1, rto_target=10, rpo_target=3, lost=0))  # decided by the engine
    assert [(r["measure"].split()[0], r["met"]) for r in rows] == [("RTO", "NO"), ("RPO", "yes"), ("objects", "yes")]


def _drill_headline(result: dict, *, rto_target: float) -> view.Html:
    """The engine decides the drill's verdict; the view draws it."""
    return view.outcome_headline(decide.etcd_drill(result, rto_target=rto_target, rpo_target=None))


def test_headline_is_bad_when_the_rto_target_is_missed() -> None:
    assert decide.etcd_drill(RESULT, rto_target=10, rpo_target=None).result == decide.FAILED
    assert "#1a7f37" in _drill_headline(RESULT, rto_target=60)._repr_html_()
    assert "#cf222e" in _drill_headline(RESULT, rto_target=10)._repr_html_()


def test_timeline_has_one_row_per_phase_and_marks_the_disaster() -> None:
    figure = view.timeline_figure(RESULT["timeline"])
    assert [trace.name for trace in figure.data] == ["snapshot", "disaster", "verify"]
    assert any(shape.x0 == 1.0 for shape in figure.layout.shapes)


def test_tables_show_per_kind_objects_and_failed_outcomes_first() -> None:
    assert "ConfigMap" in repr(view.per_kind_table(RESULT["per_kind"]))
    assert "nothing lost" in str(view.objects_table([], empty="nothing lost"))
    text = repr(view.outcomes_table([Outcome("ConfigMap/a/b", "created"), Outcome("Secret/a/s", "failed", "denied")]))
    assert text.index("failed") < text.index("created")
