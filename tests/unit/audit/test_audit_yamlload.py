"""The fast YAML path returns exactly what PyYAML returns, on every scalar form where YAML 1.1 and 1.2 differ.

Differential tests: every document is parsed by kubebook.audit.yamlload.load and
by PyYAML's CSafeLoader, and the results (values and their types, or the fact
that both reject the document) must be equal.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubebook.audit import yamlload

REPO = Path(__file__).resolve().parents[3]
SCALARS = [
    # forms where YAML 1.1 (PyYAML) and YAML 1.2 (ryaml) disagree
    "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "00", "07", "010", "0644",
    "1_0", "1__2", "0o17", "0b101", "0x_1", "1:20", "1:20.5", "21:59:43.10", "+.5", "-.5", "1e3", "1E3",
    "1.5e3", "1.0e+5", "2020-01-01", "2001-12-14t21:59:43.10-05:00", "=", "<<", "123456789012345678901234567890",
    "!!binary aGVsbG8=", "!!str 5", "!!int 7", "00.5", "1.2_3", "1.5_", "1._", ".5e5", ".5E5", "1_212:30",
    "-1_0:30.5", ".5_0", "&anchor value",
    # forms both read the same way (must stay on the fast path without changing meaning)
    "0", "-0", "+1", "-1", "42", "1.0", "1.", ".5", "0.0", "0x1F", ".inf", "-.inf", ".nan", "true", "True",
    "TRUE", "false", "False", "null", "Null", "NULL", "~", "y", "Y", "n", "N", "tRue", "nginx:latest",
    "registry.example.com/app:1.2", "app@sha256:3e4f00aa", "10.0.0.1:8080", "50m", "64Mi", "'yes'", '"0644"',
    "RuntimeDefault", "a b c", "on the hour", "0 3 * * *", "--flag=value", "app-on", "https://x/y?a=1",
]


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types, recursively (True == 1 and NaN != NaN would hide differences)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(_same(ka, kb) and _same(va, vb)
                                        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _reference(text: str) -> tuple[str, Any]:
    try:
        return "ok", yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as error:
        return "error", type(error).__name__


def _ours(text: str) -> tuple[str, Any]:
    try:
        return "ok", yamlload.load(text)
    except yaml.YAMLError as error:
        return "error", type(error).__name__


def _documents(scalar: str) -> list[str]:
    """The scalar in every position a plain scalar can take, and in prose, quotes and block scalars."""
    return [f"k: {scalar}\n", f"{scalar}: v\n", f"items:\n  - {scalar}\n  - other\n", f"k: [{scalar}, 2]\n",
            f"k: {{a: {scalar}, b: 1}}\n", f"outer:\n  inner: {scalar}  # comment\n", f"k: &anchor {scalar}\n",
            f"- - {scalar}\n", f"--- {scalar}\n", f"k:\n  {scalar}\n", f"k: [\n  {scalar}\n]\n", f"? {scalar}\n: v\n",
            f"a: b\r\nc: {scalar}\r\n", f"title: prose with {scalar} inside\n", f"title: ends in {scalar}\n",
            f"k: >\n  folded {scalar}\n  {scalar}\n", f"k: '{scalar} quoted'\n", f"k: x-{scalar}\n", f"k: a:{scalar}\n",
            f"{{\"k\":{scalar}}}\n"]


@pytest.mark.parametrize("scalar", SCALARS)
def test_every_scalar_form_parses_as_pyyaml_does(scalar: str) -> None:
    for text in _documents(scalar):
        expected, got = _reference(text), _ours(text)
        assert expected[0] == got[0], f"{text!r}: PyYAML {expected}, kubebook {got}"
        assert _same(expected[1], got[1]), f"{text!r}: PyYAML {expected[1]!r}, kubebook {got[1]!r}"


def test_the_fast_path_is_taken_for_plain_kubernetes_yaml() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  containers:\n"
            "  - name: app\n    image: registry.example.com/app:1.2\n    resources:\n      requests: {cpu: 50m}\n")
    assert not yamlload.needs_pyyaml(text)
    assert yamlload.needs_pyyaml(text.replace("50m", "0644"))  # octal: PyYAML decides


def test_random_documents_match_pyyaml() -> None:
    rng = random.Random(20261126)
    for _ in range(400):
        lines = []
        for index in range(rng.randint(1, 6)):
            value = rng.choice(SCALARS)
            form = rng.randrange(4)
            if form == 0:
                lines.append(f"key{index}: {value}")
            elif form == 1:
                lines.append(f"list{index}:\n  - {value}\n  - {rng.choice(SCALARS)}")
            elif form == 2:
                lines.append(f"flow{index}: [{value}, {rng.choice(SCALARS)}]")
            else:
                lines.append(f"map{index}: {{x: {value}}}")
        text = "\n".join(lines) + "\n"
        expected, got = _reference(text), _ours(text)
        assert expected[0] == got[0] and _same(expected[1], got[1]), f"{text!r}: PyYAML {expected}, kubebook {got}"


def test_duplicate_keys_and_anchors_follow_pyyaml() -> None:
    for text in ("k: x\u2028other: yes\n", "k: a\x85b: no\n", "a: 1\u2029b: on\n", "\ufeffk: on\n",
                 "a: &a 1\nb: &a 2\nc: *a\n", "\ufeffyes: 1\n", "\ufeff2020-01-01\n", "a: 1\ron: 2\r", "k:\r  0644\r",
                 "a: 1\na: 2\n", "base: &b {x: 1}\nuse: *b\n", "base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\n",
                 "a: [1\n", "a: 'unterminated\n", "\tbad: tab\n"):
        expected, got = _reference(text), _ours(text)
        assert expected[0] == got[0] and _same(expected[1], got[1]), f"{text!r}: PyYAML {expected}, kubebook {got}"


def test_repository_manifests_and_fixtures_parse_as_pyyaml_does() -> None:
    from kubebook.audit.sources import _split_documents

    sys.path.insert(0, str(REPO / "benchmarks"))
    from audit_scale import app_objects

    texts = [yaml.safe_dump(obj, sort_keys=False) for i in range(24) for obj in app_objects(i)]
    for folder in ("manifests", "tests/fixtures", "scheduled"):
        for path in sorted((REPO / folder).rglob("*.y*ml")):
            texts += [doc for _, doc in _split_documents(path.read_text(encoding="utf-8"))]
    assert len(texts) > 300
    for text in texts:
        expected, got = _reference(text), _ours(text)
        assert expected[0] == got[0] and _same(expected[1], got[1]), f"{text[:200]!r} differs"


def test_dates_stay_what_pyyaml_makes_them() -> None:
    assert yamlload.load("expires: 2026-12-31\n") == {"expires": dt.date(2026, 12, 31)}
