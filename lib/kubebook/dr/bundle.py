"""The namespace-backup file: a checksummed tar.gz whose Secrets are sealed with AES-256-GCM.

``NAME.tar.gz`` holds ``manifest.json`` (what was selected, counts, the SHA-256 of
``objects.jsonl``) and ``objects.jsonl`` (one stripped object per line); beside it
``NAME.tar.gz.sha256`` holds the SHA-256 of the whole file in ``sha256sum`` form.
A file that fails either checksum is refused before anything is restored.

A Secret's ``data`` and ``stringData`` never enter the file in clear: they are
encrypted with cryptography's AESGCM (a 32-byte key from a key file or
``$KUBEBOOK_DR_KEY``, base64), with the Secret's apiVersion, kind, namespace and
name as associated data, so a sealed value cannot be moved onto another object
(another Secret, or a ConfigMap of the same name) unnoticed. Version 1 files bound
only ``namespace/name``; they are still read, and a sealed value in them opens only
on a v1 Secret (:mod:`kubebook.dr.validate` refuses it anywhere else).

Reading is bounded (:data:`MAX_OBJECTS_BYTES`, :data:`MAX_LINE_BYTES`) and streamed,
and every line is checked (:mod:`kubebook.dr.validate`) before anything is restored.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import json
import os
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebook.dr import validate
from kubebook.dr.errors import IntegrityError
from kubebook.errors import ParameterError
from kubebook.fsutil import atomic_write_bytes

FORMAT = "kubebook-namespace-backup/v2"
OLD_FORMATS = ("kubebook-namespace-backup/v1",)
KEY_ENV = "KUBEBOOK_DR_KEY"
SEALED = validate.SEALED
MANIFEST, OBJECTS = "manifest.json", "objects.jsonl"
MAX_OBJECTS_BYTES = 256 * 2**20  # objects.jsonl unpacked (and the file itself); `--max-size MIB` raises it
MAX_LINE_BYTES = 3 * 2**20  # the API server refuses any request body over 3 MiB: no object is bigger
MAX_MANIFEST_BYTES = 2**20
CHUNK = 2**20
CAP_HINT = "if the backup is genuine, raise the cap with --max-size MIB (restore-namespace); nothing was changed"


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


def _aad(obj: dict[str, Any], *, legacy: bool = False) -> bytes:
    """What a sealed value is bound to: apiVersion, kind, namespace and name (v1 files: namespace/name)."""
    meta = obj.get("metadata") or {}
    if legacy:
        return f"{meta.get('namespace', '')}/{meta.get('name', '')}".encode()
    return json.dumps(["kubebook-dr-seal/v2", obj.get("apiVersion"), obj.get("kind"), meta.get("namespace", ""),
                       meta.get("name", "")], separators=(",", ":")).encode()


def _label(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('namespace', '')}/{meta.get('name', '')}"


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


def open_secret(obj: dict[str, Any], key: bytes, *, legacy: bool = False) -> dict[str, Any]:
    """The Secret with its values back; IntegrityError when the key is wrong or the value was moved or altered."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    validate.sealed(obj, f"sealed value on {_label(obj)}", legacy=legacy)
    sealed = obj[SEALED]
    try:
        plain = AESGCM(key).decrypt(base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ciphertext"]),
                                    _aad(obj, legacy=legacy))
        values = json.loads(plain)
    except (InvalidTag, ValueError) as error:
        raise IntegrityError(f"cannot open sealed Secret {_label(obj)}: wrong key (backup used key "
                             f"{sealed.get('key_id')}, given {key_id(key)}) or the value was moved or altered"
                             ) from error
    if not isinstance(values, dict) or set(values) - {"data", "stringData"}:
        raise IntegrityError(f"sealed Secret {_label(obj)} opened to something other than data/stringData")
    return {**{k: v for k, v in obj.items() if k != SEALED}, **values}


@dataclass
class Bundle:
    """A backup read back: its manifest and objects (Secrets still sealed until :meth:`opened`)."""

    path: Path
    manifest: dict[str, Any]
    objects: list[dict[str, Any]]
    sha256: str = ""  # of the whole file, as checked against its .sha256

    @property
    def sealed_count(self) -> int:
        return sum(1 for obj in self.objects if SEALED in obj)

    @property
    def legacy(self) -> bool:
        """True for a v1 file, whose sealed values are bound to namespace/name only (read checks the kind)."""
        return self.manifest.get("format") in OLD_FORMATS

    def opened(self, key: bytes | None) -> list[dict[str, Any]]:
        """Objects with every Secret decrypted; refuses (before any change) when a key is needed and missing."""
        if self.sealed_count and key is None:
            raise ParameterError(f"the backup holds {self.sealed_count} sealed Secret(s) and no key was given",
                                 hint=f"pass --key-file or set ${KEY_ENV} (key {self.manifest.get('key_id')})")
        return [open_secret(obj, key, legacy=self.legacy) if SEALED in obj and key is not None else obj
                for obj in self.objects]


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


def read(path: Path | str, *, max_bytes: int = MAX_OBJECTS_BYTES) -> Bundle:
    """Read and check a backup, refusing (IntegrityError, one line) anything a kubebook backup never holds.

    Three streamed passes, so memory stays bounded by what a legitimate backup needs: the whole
    file's SHA-256 against its ``.sha256`` (a damaged file is named as such, whatever else is
    wrong with it); then the tar, validated line by line without keeping anything (the tar header
    says how big ``objects.jsonl`` unpacks, so a bomb is refused before it is read); then, only
    when all of that passed, the objects are loaded.
    """
    path = Path(path)
    file_sha256 = _check_file(path, max_bytes)
    manifest, digest = _scan(path, max_bytes, keep=None)
    kept: list[dict[str, Any]] = []
    if _scan(path, max_bytes, keep=kept)[1] != digest:  # the file changed between two reads
        raise IntegrityError(f"backup {path.name} changed while it was read", hint="nothing was changed")
    return Bundle(path, manifest, kept, file_sha256)


def _check_file(path: Path, max_bytes: int) -> str:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ParameterError(f"cannot read backup {path}: {error.strerror}") from error
    if size > max_bytes:
        raise IntegrityError(f"backup {path.name} is {_mib(size)}, over the cap of {_mib(max_bytes)}",
                             hint=CAP_HINT)
    try:
        recorded = checksum_path(path).read_text().split()[0]
    except (OSError, IndexError, UnicodeDecodeError) as error:
        raise IntegrityError(f"backup {path.name} has no checksum file {checksum_path(path).name}",
                             hint="a backup is restored only with its .sha256; nothing was changed") from error
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
    except OSError as error:
        raise ParameterError(f"cannot read backup {path}: {error.strerror}") from error
    actual = digest.hexdigest()
    if actual != recorded:
        raise IntegrityError(f"backup {path.name} fails its checksum: SHA-256 {actual[:16]}... differs from the "
                             f"recorded {recorded[:16]}...",
                             hint="the file was damaged or modified; nothing was changed")
    return actual


def _scan(path: Path, max_bytes: int, keep: list[dict[str, Any]] | None) -> tuple[dict[str, Any], str]:
    """One streamed pass over the tar: the manifest, and the SHA-256 of ``objects.jsonl`` (objects kept if asked)."""
    name = path.name
    manifest: dict[str, Any] | None = None
    digest = hashlib.sha256()
    count, legacy = 0, False
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for index, member in enumerate(tar):
                expected = (MANIFEST, OBJECTS)[index] if index < 2 else None
                if member.name != expected or not member.isfile():
                    raise IntegrityError(f"backup {name} has an unexpected member {member.name!r} "
                                         f"(a backup holds {MANIFEST} then {OBJECTS}, nothing else)")
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file always has one
                if member.name == MANIFEST:
                    if member.size > MAX_MANIFEST_BYTES:
                        raise IntegrityError(f"backup {name}: {MANIFEST} is {_mib(member.size)}, over "
                                             f"{_mib(MAX_MANIFEST_BYTES)}")
                    manifest = validate.manifest(handle.read(), name, (FORMAT, *OLD_FORMATS))
                    legacy = manifest["format"] in OLD_FORMATS
                    continue
                if member.size > max_bytes:
                    raise IntegrityError(f"backup {name}: {OBJECTS} unpacks to {_mib(member.size)}, over the cap "
                                         f"of {_mib(max_bytes)}", hint=CAP_HINT)
                for number, line in enumerate(iter(functools.partial(handle.readline, MAX_LINE_BYTES + 1), b""), 1):
                    digest.update(line)
                    if len(line) > MAX_LINE_BYTES:
                        raise IntegrityError(f"backup {name}: {OBJECTS} line {number} is longer than "
                                             f"{_mib(MAX_LINE_BYTES)} (the API server takes no bigger object)")
                    if not line.strip():
                        continue
                    obj = validate.line(line, number, name, legacy=legacy)
                    count += 1
                    if keep is not None:
                        keep.append(obj)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise IntegrityError(f"backup {name} is not a kubebook namespace backup: {error}") from error
    if manifest is None:
        raise IntegrityError(f"backup {name} has no {MANIFEST}")
    if digest.hexdigest() != manifest.get("objects_sha256"):
        raise IntegrityError(f"backup {name}: {OBJECTS} does not match the SHA-256 in its manifest",
                             hint="nothing was changed")
    if count != manifest["objects"]:
        raise IntegrityError(f"backup {name}: {OBJECTS} holds {count} object(s), its manifest says "
                             f"{manifest['objects']}", hint="nothing was changed")
    return manifest, digest.hexdigest()


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size % 2**20 else f"{size // 2**20} MiB"


def default_key_file() -> Path:
    """The key kept for this machine's backups when none is named: ``<data dir>/dr/namespace-backup.key``."""
    from kubebook.localcluster.paths import data_dir

    return data_dir() / "dr" / "namespace-backup.key"


def key_for_run(key_file: str | os.PathLike[str] | None = None) -> tuple[bytes, str]:
    """The key to use and where it came from: ``key_file``, else ``$KUBEBOOK_DR_KEY``, else :func:`default_key_file`.

    The default key file is made (0600, in a 0700 folder) the first time it is needed and reused
    after, so a backup a runbook wrote can be restored by a later run; a one-off key would make
    every archived backup unopenable. Copy it somewhere safe to restore on another machine.
    """
    key = load_key(key_file)
    if key is not None:
        return key, f"key file {key_file}" if key_file else f"${KEY_ENV}"
    path = default_key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another run made it just now: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(new_key() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            return load_key(path) or b"", f"key file {path} (made now for this machine's backups; keep a copy)"
    return load_key(path) or b"", f"key file {path} (this machine's backup key)"
