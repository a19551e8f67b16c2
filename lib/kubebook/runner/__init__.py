"""Headless runs: validate parameters, execute with papermill, redact secrets, archive the report.

The public surface (used by ``kubebook run`` and by the scheduler)::

    validate_parameters(notebook, parameters) -> dict      # raises ParameterError
    run_notebook(notebook, parameters, archive=..., ...) -> RunOutcome
    prepare_notebook(notebook, parameters, output) -> Path

and the exit codes, one per way a run ends.
"""

from kubebook.runner.core import (
    EXIT_CELL_ERROR,
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_INVALID_PARAMETERS,
    EXIT_KERNEL_DIED,
    EXIT_LEAKED,
    EXIT_OK,
    EXIT_TIMEOUT,
    RunOutcome,
    prepare_notebook,
    run_notebook,
)
from kubebook.runner.params import describe_parameters, validate_parameters

__all__ = [
    "EXIT_CELL_ERROR",
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID_PARAMETERS",
    "EXIT_KERNEL_DIED",
    "EXIT_LEAKED",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "RunOutcome",
    "describe_parameters",
    "prepare_notebook",
    "run_notebook",
    "validate_parameters",
]
