"""Errors of the disaster-recovery engine; each says what to do next.

A snapshot or backup that fails its checks is *input* that is wrong, so it is a
:class:`~kubebook.errors.ParameterError` (CLI exit 2) raised before anything is
changed; a drill or restore that fails part-way is a :class:`DrError`.
"""

from __future__ import annotations

from kubebook.errors import KubebookError, ParameterError


class DrError(KubebookError):
    """A snapshot, restore or drill failed; the message says at which step and why."""


class IntegrityError(ParameterError):
    """A snapshot or backup does not match its checksums: refused before any restore."""

