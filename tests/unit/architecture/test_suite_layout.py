"""The test tree itself: pytest imports test modules by basename (no packages), so two modules with one name
in different folders stop the whole collection ("import file mismatch") - which `make test` would only show
after its builds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]


def test_no_two_test_modules_share_a_basename() -> None:
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []


def test_unit_tests_live_in_an_area_folder_named_for_what_they_test() -> None:
    """tests/unit/<area>/test_*.py: the folder says the area; nothing sits loose in tests/unit."""
    unit = TESTS / "unit"
    loose = sorted(p.name for p in unit.glob("test_*.py"))
    assert loose == []
    areas = {p.parent.name for p in unit.rglob("test_*.py") if p.parent != unit}
    assert "cluster" not in areas, "tests/unit/cluster would be marked as cluster tests by the folder rule"
    assert len(areas) >= 10, areas
