"""Type checks for exactly the pod fields the Pod Security checks read.

The API server would refuse a pod whose fields have the wrong type before
PodSecurity ever saw it; a manifest can still contain one (``privileged: "true"``).
Rather than guess, such a template is reported as ERROR: a value the port cannot
interpret must never read as allowed.
"""

from __future__ import annotations

from typing import Any

from kubebook.errors import AuditError


class SpecError(AuditError):
    """A pod template field has a type the Kubernetes API would reject; fix the manifest."""


_BOOL = (bool, type(None))
_STR = (str, type(None))
_DICT = (dict, type(None))
_LIST = (list, type(None))


_INT = (int, type(None))
_WANTED = {_BOOL: "a boolean", _STR: "a string", _DICT: "an object", _LIST: "a list", _INT: "an integer",
           (dict,): "an object", (str,): "a string"}


def _type(value: Any, types: tuple[type, ...], path: str) -> Any:
    if not isinstance(value, types) or (types is _INT and isinstance(value, bool)):
        raise SpecError(f"{path} must be {_WANTED[types]}, not {type(value).__name__}")
    return value


def _obj(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    return _type(parent.get(key), _DICT, f"{path}.{key}") or {}


def _items(parent: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
    items = _type(parent.get(key), _LIST, f"{path}.{key}") or []
    for index, item in enumerate(items):
        _type(item, (dict,), f"{path}.{key}[{index}]")
    return items


def _strings(parent: dict[str, Any], key: str, path: str) -> None:
    for index, item in enumerate(_type(parent.get(key), _LIST, f"{path}.{key}") or []):
        _type(item, (str,), f"{path}.{key}[{index}]")


def _profile(parent: dict[str, Any], key: str, path: str) -> None:
    _type(_obj(parent, key, path).get("type"), _STR, f"{path}.{key}.type")


def _handler(handler: dict[str, Any], path: str) -> None:
    for kind in ("httpGet", "tcpSocket"):
        _type(_obj(handler, kind, path).get("host"), _STR, f"{path}.{kind}.host")


def validate_spec(meta: dict[str, Any], spec: dict[str, Any]) -> None:
    """Raise SpecError naming the first field of the wrong type among those the checks read."""
    _type(meta, (dict,), "metadata")
    _type(spec, (dict,), "spec")
    for key, value in _obj(meta, "annotations", "metadata").items():
        _type(value, (str,), f"metadata.annotations[{key}]")
    for key in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"):
        _type(spec.get(key), _BOOL, f"spec.{key}")
    _type(_obj(spec, "os", "spec").get("name"), _STR, "spec.os.name")
    pod_sc = _obj(spec, "securityContext", "spec")
    _security_context(pod_sc, "spec.securityContext")
    _type(pod_sc.get("runAsNonRoot"), _BOOL, "spec.securityContext.runAsNonRoot")
    for index, sysctl in enumerate(_items(pod_sc, "sysctls", "spec.securityContext")):
        _type(sysctl.get("name"), _STR, f"spec.securityContext.sysctls[{index}].name")
    for index, volume in enumerate(_items(spec, "volumes", "spec")):
        _type(volume.get("name"), _STR, f"spec.volumes[{index}].name")
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(_items(spec, group, "spec")):
            path = f"spec.{group}[{index}]"
            _type(container.get("name"), _STR, f"{path}.name")
            sc = _obj(container, "securityContext", path)
            _security_context(sc, f"{path}.securityContext")
            for key in ("privileged", "allowPrivilegeEscalation", "runAsNonRoot"):
                _type(sc.get(key), _BOOL, f"{path}.securityContext.{key}")
            _type(sc.get("procMount"), _STR, f"{path}.securityContext.procMount")
            caps = _obj(sc, "capabilities", f"{path}.securityContext")
            _strings(caps, "add", f"{path}.securityContext.capabilities")
            _strings(caps, "drop", f"{path}.securityContext.capabilities")
            for port_index, port in enumerate(_items(container, "ports", path)):
                _type(port.get("hostPort"), _INT, f"{path}.ports[{port_index}].hostPort")
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                _handler(_obj(container, probe, path), f"{path}.{probe}")
            lifecycle = _obj(container, "lifecycle", path)
            for hook in ("postStart", "preStop"):
                _handler(_obj(lifecycle, hook, f"{path}.lifecycle"), f"{path}.lifecycle.{hook}")


def _security_context(sc: dict[str, Any], path: str) -> None:
    _type(sc.get("runAsUser"), _INT, f"{path}.runAsUser")
    _profile(sc, "seccompProfile", path)
    _profile(sc, "appArmorProfile", path)
    selinux = _obj(sc, "seLinuxOptions", path)
    for key in ("type", "user", "role"):
        _type(selinux.get(key), _STR, f"{path}.seLinuxOptions.{key}")
    _type(_obj(sc, "windowsOptions", path).get("hostProcess"), _BOOL, f"{path}.windowsOptions.hostProcess")
