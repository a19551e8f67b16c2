"""One exception root for kubebook; each subclass tells the caller what to do next.

The CLI prints any :class:`KubebookError` as one line (``kubebook: <message>``)
followed by its ``hint`` and exits with ``exit_code``; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations


class KubebookError(Exception):
    """Root of every error kubebook raises on purpose.

    ``hint`` says what would be right; ``exit_code`` is what the CLI returns.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ParameterError(KubebookError):
    """Input (a parameter, flag or file) is wrong; nothing was changed. Fix the input and retry."""

    exit_code = 2

    def __init__(self, message: str, *, problems: list[str] | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = list(problems or [])

    def __str__(self) -> str:
        text = super().__str__()
        if self.problems:
            text += "\n" + "\n".join(f"  - {p}" for p in self.problems)
        return text


class ConfirmationRequired(ParameterError):
    """A mutation was asked for (``dry_run`` off) but nobody confirmed it; nothing was changed.

    Headless, set ``confirm`` to true; interactively, press the Apply button.
    """


class ClusterError(KubebookError):
    """The cluster could not be reached or answered unexpectedly."""


class ApiError(ClusterError):
    """The API server answered a raw request with an error status (``status``, its ``Status`` ``reason``).

    ``message`` carries the server's own message (an admission policy's text, say).
    """

    def __init__(self, message: str, *, status: int, reason: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = reason


class ClusterUnreachableError(ClusterError):
    """No API server answered. Start one (``kubebook cluster up``) or pass a kubeconfig."""


class BuildError(KubebookError):
    """Building upstream binaries failed (Go toolchain or module proxy). See the build log."""


class LocalClusterError(KubebookError):
    """The local control plane could not be started, stopped or inspected."""


class ArchiveError(KubebookError):
    """The report archive is missing, unreadable or has been tampered with."""


class ScheduleError(KubebookError):
    """schedules.yaml is invalid or a schedule could not be run."""


class AuditError(KubebookError):
    """The audit could not read its source (cluster, manifests or control-plane config)."""


class NotAvailableError(KubebookError):
    """The requested command group exists in the design but has no commands in this version."""

    exit_code = 2
