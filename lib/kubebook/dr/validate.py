"""The shape checks of a namespace backup's contents: whatever a file says is untrusted until it passes these.

A backup travels (object storage, a colleague's laptop) and its checksums are not a
signature: anyone who can change it can recompute them. So every manifest field and
every ``objects.jsonl`` line is checked for the shape a kubebook backup has, and
anything else is one :class:`~kubebook.dr.errors.IntegrityError` naming the line and
what was wrong, before any object is restored. Values that are merely unexpected
(an unknown kind, a namespace the backup does not declare) are :mod:`kubebook.dr.scope`'s
business; this module refuses what no backup writer ever produces.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from kubebook.dr.errors import IntegrityError

MAX_DEPTH = 100  # far deeper than any real object (a CRD schema nests about 20); json recursion stops near 1,000
SEALED = "kubebook.io/sealed"
NAMESPACE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def manifest(raw: bytes, name: str, formats: tuple[str, ...]) -> dict[str, Any]:
    """The parsed ``manifest.json``, checked: an object with a known format, namespaces, a count and a SHA-256."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise IntegrityError(f"backup {name}: manifest.json is not JSON ({_short(error)})") from error
    if not isinstance(doc, dict):
        raise IntegrityError(f"backup {name}: manifest.json is a {type(doc).__name__}, not an object")
    if doc.get("format") not in formats:
        raise IntegrityError(f"backup {name} has format {doc.get('format')!r}, expected one of {list(formats)}",
                             hint="take the backup again with this kubebook")
    namespaces = doc.get("namespaces")
    if (not isinstance(namespaces, list) or not namespaces
            or not all(isinstance(n, str) and NAMESPACE_NAME.match(n) for n in namespaces)):
        raise IntegrityError(f"backup {name}: manifest.json 'namespaces' must be a non-empty list of namespace "
                             f"names, got {_clip(namespaces)}")
    if not isinstance(doc.get("objects"), int) or isinstance(doc.get("objects"), bool) or doc["objects"] < 0:
        raise IntegrityError(f"backup {name}: manifest.json 'objects' must be a count, got {_clip(doc.get('objects'))}")
    if not isinstance(doc.get("objects_sha256"), str):
        raise IntegrityError(f"backup {name}: manifest.json has no 'objects_sha256'")
    return doc


def line(raw: bytes, number: int, name: str, *, legacy: bool = False) -> dict[str, Any]:
    """One ``objects.jsonl`` line as an object with apiVersion, kind and metadata.name; sealed values checked."""
    where = f"backup {name}: objects.jsonl line {number}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise IntegrityError(f"{where} is not UTF-8 (byte {error.start})") from error
    try:
        obj = json.loads(text)
    except RecursionError as error:
        raise IntegrityError(f"{where} nests deeper than {MAX_DEPTH} levels") from error
    except ValueError as error:
        raise IntegrityError(f"{where} is not JSON ({_short(error)})") from error
    if not isinstance(obj, dict):
        raise IntegrityError(f"{where} is a {type(obj).__name__}, not an object")
    if _depth(obj) > MAX_DEPTH:
        raise IntegrityError(f"{where} nests deeper than {MAX_DEPTH} levels")
    for field in ("apiVersion", "kind"):
        if not isinstance(obj.get(field), str) or not obj[field]:
            raise IntegrityError(f"{where} has no {field}")
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise IntegrityError(f"{where} has no metadata.name")
    if "namespace" in meta and not isinstance(meta["namespace"], str):
        raise IntegrityError(f"{where}: metadata.namespace is not a string")
    problem = _shape(obj, meta)
    if problem:
        raise IntegrityError(f"{where}: {problem}")
    key = f"{obj['kind']}/{meta['namespace'] + '/' if meta.get('namespace') else ''}{meta['name']}"
    if SEALED in obj:
        sealed(obj, f"{where} ({key})", legacy=legacy)
    elif obj["kind"] == "Secret" and ("data" in obj or "stringData" in obj):
        raise IntegrityError(f"{where}: {key} holds values in clear; a kubebook backup seals every Secret")
    return obj


def _shape(obj: dict[str, Any], meta: dict[str, Any]) -> str:
    """The fields a restore reads besides the name: labels, annotations, owners, subjects, a spec."""
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is not None and (not isinstance(value, dict)
                                  or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
            return f"metadata.{field} is not a map of strings"
    owners = meta.get("ownerReferences")
    if owners is not None and (not isinstance(owners, list) or not all(
            isinstance(o, dict) and all(isinstance(o.get(f), str) and o.get(f) for f in ("apiVersion", "kind", "name"))
            for o in owners)):
        return "metadata.ownerReferences is not a list of {apiVersion, kind, name}"
    subjects = obj.get("subjects")
    if subjects is not None and (not isinstance(subjects, list) or not all(isinstance(x, dict) for x in subjects)):
        return "subjects is not a list of objects"
    if "spec" in obj and not isinstance(obj["spec"], dict | type(None)):
        return f"spec is a {type(obj['spec']).__name__}, not an object"
    return ""


def sealed(obj: dict[str, Any], where: str, *, legacy: bool = False) -> None:
    """A sealed value sits only on a v1 Secret, with a 12-byte nonce and a ciphertext, and nothing in clear."""
    record = obj[SEALED]
    if obj.get("apiVersion") != "v1" or obj.get("kind") != "Secret":
        raise IntegrityError(f"{where}: a sealed value belongs on only a v1 Secret"
                             + (" (this v1 backup does not bind the kind; refused)" if legacy else ""))
    if "data" in obj or "stringData" in obj:
        raise IntegrityError(f"{where}: a sealed Secret also holds values in clear")
    if not isinstance(record, dict):
        raise IntegrityError(f"{where}: the sealed value is a {type(record).__name__}, not an object")
    if record.get("alg") != "AES-256-GCM":
        raise IntegrityError(f"{where}: sealed with {_clip(record.get('alg'))}, expected AES-256-GCM")
    nonce = _b64(record.get("nonce"), where, "nonce")
    if len(nonce) != 12:
        raise IntegrityError(f"{where}: the sealed nonce is {len(nonce)} bytes, AES-256-GCM uses 12")
    if len(_b64(record.get("ciphertext"), where, "ciphertext")) < 16:
        raise IntegrityError(f"{where}: the sealed ciphertext is shorter than its 16-byte tag")


def _b64(value: Any, where: str, field: str) -> bytes:
    if not isinstance(value, str):
        raise IntegrityError(f"{where}: the sealed {field} is a {type(value).__name__}, expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise IntegrityError(f"{where}: the sealed {field} is not base64") from error


def _depth(value: Any) -> int:
    """How deep ``value`` nests, without recursion (a hostile line must not overflow the stack here either)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _short(error: BaseException) -> str:
    return str(error).splitlines()[0][:120]


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
