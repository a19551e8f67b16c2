"""The namespace-backup file: a checksummed tar.gz whose Secrets are sealed with AES-256-GCM.

``NAME.tar.gz`` holds ``manifest.json`` (what was selected, counts, the SHA-256 of
``objects.jsonl``) and ``objects.jsonl`` (one stripped object per line); beside it
``NAME.tar.gz.sha256`` holds the SHA-256 of the whole file in ``sha256sum`` form.
A file that fails either checksum is refused before anything is restored.

A Secret's ``data`` and ``stringData`` never enter the file in clear: they are
encrypted with cryptography's AESGCM (a 32-byte key from a key file or
``$KUBEBOOK_DR_KEY``, base64), with the Secret's ``namespace/name`` as associated
data, so a sealed value cannot be moved onto another Secret unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebook.dr.errors import IntegrityError
from kubebook.errors import ParameterError
from kubebook.fsutil import atomic_write_bytes

FORMAT = "kubebook-namespace-backup/v1"
KEY_ENV = "KUBEBOOK_DR_KEY"
SEALED = "kubebook.io/sealed"
MANIFEST, OBJECTS = "manifest.json", "objects.jsonl"


def new_key() -> str:
    """A fresh key, base64, for a key file (``kubebook dr backup --new-key FILE``)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


def load_key(key_file: str | os.PathLike[str] | None = None) -> bytes | None:
    """The key from ``key_file`` or ``$KUBEBOOK_DR_KEY`` (base64 of 32 bytes); None when neither is set."""
    where = "key file " + str(key_file) if key_file else f"${KEY_ENV}"
    if key_file:
        try:
            text = Path(key_file).read_text().strip()
        except OSError as error:
            raise ParameterError(f"cannot read key file {key_file}: {error.strerror}") from error
    else:
        text = os.environ.get(KEY_ENV, "").strip()
        if not text:
            return None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ParameterError(f"{where} is not base64", hint="make one with 'kubebook dr backup --new-key FILE'") \
            from error
    if len(key) != 32:
        raise ParameterError(f"{where} holds {len(key)} bytes; AES-256-GCM needs 32",
                             hint="make one with 'kubebook dr backup --new-key FILE'")
    return key


def key_id(key: bytes) -> str:
    """A name for a key that does not reveal it: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(b"kubebook-dr-key|" + key).hexdigest()[:12]


def _aad(obj: dict[str, Any]) -> bytes:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}".encode()


def seal_secret(obj: dict[str, Any], key: bytes) -> dict[str, Any]:
    """The Secret with ``data``/``stringData`` replaced by one AES-256-GCM ciphertext."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    secret = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
    plain = json.dumps({k: obj[k] for k in ("data", "stringData") if k in obj}, sort_keys=True).encode()
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plain, _aad(obj))
    secret[SEALED] = {"alg": "AES-256-GCM", "key_id": key_id(key), "nonce": base64.b64encode(nonce).decode(),
                      "ciphertext": base64.b64encode(sealed).decode()}
    return secret


def open_secret(obj: dict[str, Any], key: bytes) -> dict[str, Any]:
    """The Secret with its values back; IntegrityError when the key is wrong or the value was altered."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = obj[SEALED]
    try:
        plain = AESGCM(key).decrypt(base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ciphertext"]),
                                    _aad(obj))
    except (InvalidTag, ValueError, KeyError) as error:
        raise IntegrityError(f"cannot open sealed Secret {_aad(obj).decode()}: wrong key (backup used key "
                             f"{sealed.get('key_id')}, given {key_id(key)}) or altered data") from error
    return {**{k: v for k, v in obj.items() if k != SEALED}, **json.loads(plain)}


@dataclass
class Bundle:
    """A backup read back: its manifest and objects (Secrets still sealed until :meth:`opened`)."""

    path: Path
    manifest: dict[str, Any]
    objects: list[dict[str, Any]]

    @property
    def sealed_count(self) -> int:
        return sum(1 for obj in self.objects if SEALED in obj)

    def opened(self, key: bytes | None) -> list[dict[str, Any]]:
        """Objects with every Secret decrypted; refuses (before any change) when a key is needed and missing."""
        if self.sealed_count and key is None:
            raise ParameterError(f"the backup holds {self.sealed_count} sealed Secret(s) and no key was given",
                                 hint=f"pass --key-file or set ${KEY_ENV} (key {self.manifest.get('key_id')})")
        return [open_secret(obj, key) if SEALED in obj and key is not None else obj for obj in self.objects]


def write(path: Path, manifest: dict[str, Any], objects: list[dict[str, Any]]) -> Path:
    """Write the tar.gz and its ``.sha256``; every Secret must already be sealed."""
    clear = [o for o in objects if o.get("kind") == "Secret" and SEALED not in o and ("data" in o or "stringData" in o)]
    if clear:
        raise ParameterError(f"refusing to write {len(clear)} Secret(s) in clear")  # a bug guard, not user input
    body = "".join(json.dumps(o, sort_keys=True, separators=(",", ":")) + "\n" for o in objects).encode()
    manifest = {**manifest, "format": FORMAT, "objects": len(objects),
                "objects_sha256": hashlib.sha256(body).hexdigest()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in ((MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode()), (OBJECTS, body)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o600, 0
            tar.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    atomic_write_bytes(path, data, 0o600)
    atomic_write_bytes(checksum_path(path), f"{hashlib.sha256(data).hexdigest()}  {path.name}\n".encode(), 0o600)
    return path


def checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def read(path: Path | str) -> Bundle:
    """Read and check a backup: the file's SHA-256, then the objects' SHA-256 in the manifest."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ParameterError(f"cannot read backup {path}: {error.strerror}") from error
    try:
        recorded = checksum_path(path).read_text().split()[0]
    except (OSError, IndexError) as error:
        raise IntegrityError(f"backup {path.name} has no checksum file {checksum_path(path).name}",
                             hint="a backup is restored only with its .sha256; nothing was changed") from error
    actual = hashlib.sha256(data).hexdigest()
    if actual != recorded:
        raise IntegrityError(f"backup {path.name} fails its checksum: SHA-256 {actual[:16]}... differs from the "
                             f"recorded {recorded[:16]}...",
                             hint="the file was damaged or modified; nothing was changed")
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = {m.name: tar.extractfile(m) for m in tar.getmembers() if m.isfile()}
            manifest = json.loads(members[MANIFEST].read())  # type: ignore[union-attr]
            body = members[OBJECTS].read()  # type: ignore[union-attr]
    except (tarfile.TarError, KeyError, ValueError, OSError, AttributeError) as error:
        raise IntegrityError(f"backup {path.name} is not a kubebook namespace backup: {error}") from error
    if manifest.get("format") != FORMAT:
        raise IntegrityError(f"backup {path.name} has format {manifest.get('format')!r}, expected {FORMAT!r}")
    if hashlib.sha256(body).hexdigest() != manifest.get("objects_sha256"):
        raise IntegrityError(f"backup {path.name}: {OBJECTS} does not match the SHA-256 in its manifest",
                             hint="nothing was changed")
    return Bundle(path, manifest, [json.loads(line) for line in body.splitlines() if line.strip()])


def key_for_run(key_file: str | os.PathLike[str] | None = None) -> tuple[bytes, str]:
    """The key to use and where it came from; with neither a file nor ``$KUBEBOOK_DR_KEY``, a one-off key.

    A backup sealed with a one-off key can be restored only by the same run: fine for a trial, and
    the runbook says so.
    """
    key = load_key(key_file)
    if key is not None:
        return key, f"key file {key_file}" if key_file else f"${KEY_ENV}"
    return base64.b64decode(new_key()), "a one-off key for this run (set $KUBEBOOK_DR_KEY to keep backups usable)"
