"""The test tree itself: pytest imports test modules by basename (no packages), so two modules with one name
in different folders stop the whole collection ("import file mismatch") - which `make test` would only show
after its builds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_basename() -> None:
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
