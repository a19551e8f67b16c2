"""Training labs: auto-graded, behavioural exercises against the real API server.

A lab is a data file (``catalog/<id>.yaml``): story, goal, namespaces, starting objects,
steps with hints, probes that verify them, and the reference solution.
"""

from kubebook.labs.engine import (
           LabNotPassed,
           apply_yaml,
           check,
           delete,
           hint,
           require_passed,
           reset,
           run_action,
           solve,
           start,
           status,
)
from kubebook.labs.errors import LabRefused, LabSetupError, NotStarted, ProgressTampered
from kubebook.labs.model import Lab, LabResult, StepResult, catalog, get
from kubebook.labs.progress import workspace
from kubebook.labs.toolchain import terminal

__all__ = ["Lab", "LabNotPassed", "LabRefused", "LabResult", "LabSetupError", "NotStarted", "ProgressTampered",
           "StepResult", "apply_yaml", "catalog", "check", "delete", "get", "hint", "require_passed", "reset",
           "run_action", "solve", "start", "status", "terminal", "workspace"]
