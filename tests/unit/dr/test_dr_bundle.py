"""Namespace-backup files: checksums refuse damage, Secrets are sealed, a wrong key is named."""

from __future__ import annotations

import base64
import gzip
from pathlib import Path

import pytest

from kubebook.dr import bundle
from kubebook.dr.errors import IntegrityError
from kubebook.errors import ParameterError

VALUE = "hunter2-very-secret"


def secret() -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "db", "namespace": "shop"},
            "data": {"password": base64.b64encode(VALUE.encode()).decode()}, "stringData": {"user": VALUE}}


def write(tmp_path: Path, key: bytes) -> Path:
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"},
                "data": {"a": "b"}}, bundle.seal_secret(secret(), key)]
    return bundle.write(tmp_path / "b.tar.gz", {"namespaces": ["shop"]}, objects)


@pytest.fixture
def key() -> bytes:
    return base64.b64decode(bundle.new_key())


def test_round_trip_opens_the_secret_with_its_key(tmp_path: Path, key: bytes) -> None:
    data = bundle.read(write(tmp_path, key))
    opened = data.opened(key)
    assert data.sealed_count == 1
    assert opened[1]["data"] == secret()["data"] and opened[1]["stringData"] == {"user": VALUE}


def test_no_secret_value_in_clear_anywhere_in_the_file(tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key)
    raw = gzip.decompress(path.read_bytes()) + path.read_bytes() + bundle.checksum_path(path).read_bytes()
    for needle in (VALUE.encode(), base64.b64encode(VALUE.encode())):
        assert needle not in raw
    # the search itself can fail: the same objects unsealed would be found
    import json

    unsealed = json.dumps(secret()).encode()
    assert VALUE.encode() in unsealed and base64.b64encode(VALUE.encode()) in unsealed
    with pytest.raises(ParameterError, match="in clear"):
        bundle.write(tmp_path / "clear.tar.gz", {}, [secret()])


def test_a_flipped_byte_fails_the_checksum(tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="fails its checksum"):
        bundle.read(path)


def test_a_missing_checksum_file_is_refused(tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key)
    bundle.checksum_path(path).unlink()
    with pytest.raises(IntegrityError, match="no checksum file"):
        bundle.read(path)


def test_objects_that_differ_from_the_manifest_are_refused(tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key)
    data = bundle.read(path)
    objects = data.objects
    objects[0]["data"] = {"a": "tampered"}
    # rebuild the tar with the old manifest (old objects_sha256) and a fresh whole-file checksum
    import hashlib
    import io
    import json
    import tarfile

    body = "".join(json.dumps(o) + "\n" for o in objects).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, blob in ((bundle.MANIFEST, json.dumps(data.manifest).encode()), (bundle.OBJECTS, body)):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    path.write_bytes(buffer.getvalue())
    bundle.checksum_path(path).write_text(f"{hashlib.sha256(buffer.getvalue()).hexdigest()}  {path.name}\n")
    with pytest.raises(IntegrityError, match="does not match the SHA-256 in its manifest"):
        bundle.read(path)


def test_wrong_key_and_missing_key_are_named(tmp_path: Path, key: bytes) -> None:
    data = bundle.read(write(tmp_path, key))
    with pytest.raises(ParameterError, match="no key was given"):
        data.opened(None)
    with pytest.raises(IntegrityError, match="wrong key"):
        data.opened(base64.b64decode(bundle.new_key()))


def test_a_sealed_value_moved_to_another_secret_does_not_open(key: bytes) -> None:
    sealed = bundle.seal_secret(secret(), key)
    sealed["metadata"]["name"] = "other"
    with pytest.raises(IntegrityError):
        bundle.open_secret(sealed, key)


def test_bad_keys_are_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(bundle.KEY_ENV, raising=False)
    assert bundle.load_key(None) is None
    monkeypatch.setenv(bundle.KEY_ENV, base64.b64encode(b"short").decode())
    with pytest.raises(ParameterError, match="holds 5 bytes"):
        bundle.load_key(None)
    (tmp_path / "k").write_text("not base64!!")
    with pytest.raises(ParameterError, match="not base64"):
        bundle.load_key(tmp_path / "k")
