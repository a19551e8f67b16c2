"""The labs' own errors: each reads as one line, in a terminal and in a notebook.

Why ``_render_traceback_``: IPython shows the lines this method returns instead of a traceback, so a
lab that cannot start (a foreign namespace, an admission policy refusing a starting object, a tampered
progress file) shows the trainee one sentence saying what is wrong and what to do - never 40 lines of
client internals. The CLI prints them as one line anyway (``KubebookError``).
"""

from __future__ import annotations

from kubebook.errors import KubebookError, ParameterError


class OneLine(Exception):
    """Mixin: IPython renders the error as its one-line message."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class LabRefused(OneLine, ParameterError):
    """The lab will not start or reset as asked (it would take over or grade something not its own);
    nothing was changed."""


class LabSetupError(OneLine, KubebookError):
    """The cluster refused part of a lab's starting state (an admission policy, a quota); the message names
    the object and the server's reason."""


class NotStarted(OneLine, ParameterError):
    """The trainee has no attempt of this lab in progress; nothing was checked or recorded."""


class ProgressTampered(OneLine, ParameterError):
    """The progress file was changed outside kubebook (or is not JSON); it counts for nothing."""
