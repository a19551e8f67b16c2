"""Redaction covers every form the runner and common displays write a secret in (issue 10).

Each case is a form that slipped through before: the injected-parameters cell
as papermill renders it (unicode_escape, ``\\"``), Python reprs, HTML escapes in
the runner's own error banner, non-string secret values, and the head of a long
token that a display truncated. The scan looks for the same forms.
"""

from __future__ import annotations

import html
import json

import pytest

from kubebook.runner.redact import MIN_PREFIX, REDACTED, Redactor, secret_leaves

WEIRD = ['p\xe4ss-w\xf6rd-\u00fcber', 'hunter2"quote', "back\\slash-value", "two\nlines-value", "a&b<c>d'e"]


def papermill_form(value: str) -> str:
    from papermill.translators import PythonTranslator

    return PythonTranslator.translate(value)


@pytest.mark.parametrize("secret", WEIRD)
def test_every_escaped_form_is_redacted_and_then_not_found(secret: str) -> None:
    redactor = Redactor([secret])
    forms = [secret, papermill_form(secret), repr(secret), ascii(secret), json.dumps(secret),
             json.dumps(secret, ensure_ascii=False), html.escape(secret), html.escape(secret, quote=False)]
    text = " | ".join(forms)
    clean = redactor.redact_text(text)
    assert redactor.scan(clean.encode()) == [], clean
    for form in forms:
        assert redactor.scan(f"x {form} y".encode()), f"the scan misses {form!r}"


def test_non_string_secrets_are_redacted_leaf_by_leaf() -> None:
    value = {"user": "admin-account", "tokens": ["tok-aaaa-1111", "tok-bbbb-2222"], "pin": 48151623}
    assert sorted(secret_leaves(value)) == ["48151623", "admin-account", "tok-aaaa-1111", "tok-bbbb-2222"]
    redactor = Redactor([value])
    shown = f"{value!r}\n{json.dumps(value)}"
    clean = redactor.redact_text(shown)
    for leaf in secret_leaves(value):
        assert leaf not in clean
    assert redactor.scan(clean.encode()) == []
    assert redactor.scan(repr(value).encode())


def test_the_head_of_a_long_token_as_a_display_truncates_it_is_redacted() -> None:
    token = "T" * 20 + "abcdefghijklmnopqrstuvwxyz0123456789" + "Z" * 12  # 68 characters
    shown = f"<td>{token[:46]}...</td> and {token[:MIN_PREFIX]}\u2026 and ...{token[-MIN_PREFIX:]}"
    redactor = Redactor([token])
    assert redactor.scan(shown.encode()), "the scan must notice a truncated token"
    clean = redactor.redact_text(shown)
    assert token[:MIN_PREFIX] not in clean and token[-MIN_PREFIX:] not in clean, clean
    assert clean.startswith(f"<td>{REDACTED}...</td>")
    assert redactor.scan(clean.encode()) == []


def test_short_heads_and_short_secrets_are_not_prefix_matched() -> None:
    redactor = Redactor(["short-secret"])  # 12 characters: only the whole value counts
    assert redactor.redact_text("short-secre and short-secret") == f"short-secre and {REDACTED}"
    long = Redactor(["x" * 40])
    assert long.redact_text("x" * (MIN_PREFIX - 1)) == "x" * (MIN_PREFIX - 1)

