"""kubebook: parameterized notebooks for a security-hardened Kubernetes cluster."""

from kubebook.errors import KubebookError

__version__ = "0.1.0"
__all__ = ["KubebookError", "__version__"]
