"""A namespace backup is untrusted input: bounded, checked line by line, one-line errors before anything changes."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from kubebook.cli import main
from kubebook.dr import bundle
from kubebook.dr.errors import IntegrityError
from kubebook.errors import ParameterError

VALUE = "hunter2-moved-value"


def forge(path: Path, manifest: Any, body: bytes, *, fix_sha: bool = True) -> Path:
    """A backup built by hand with both checksums recomputed, as an attacker (or a bug) would write it."""
    if fix_sha and isinstance(manifest, dict):
        manifest = {"format": bundle.FORMAT, "namespaces": ["shop"], "objects": body.count(b"\n"), **manifest,
                    "objects_sha256": hashlib.sha256(body).hexdigest()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, blob in ((bundle.MANIFEST, json.dumps(manifest).encode()), (bundle.OBJECTS, body)):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    path.write_bytes(buffer.getvalue())
    bundle.checksum_path(path).write_text(f"{hashlib.sha256(buffer.getvalue()).hexdigest()}  {path.name}\n")
    return path


def lines(*objects: Any) -> bytes:
    return b"".join((o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objects)


CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}


@pytest.fixture
def key() -> bytes:
    return base64.b64decode(bundle.new_key())


def refused(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    code = main(["dr", "restore-namespace", str(path), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize(("line", "says"), [
    (b"{not json", "line 2 is not JSON"),
    (b"\xff\xfe{}", "line 2 is not UTF-8"),
    (b"[" * 200_000 + b"]" * 200_000, "line 2 nests deeper than"),
    (b"[1, 2]", "line 2 is a list, not an object"),
    (b'"text"', "line 2 is a str, not an object"),
    (json.dumps({"kind": "ConfigMap", "metadata": {"name": "x"}}).encode(), "line 2 has no apiVersion"),
    (json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "shop"}}).encode(),
     "line 2 has no metadata.name"),
    (json.dumps({**CM, "metadata": {"name": "x", "namespace": "shop", "labels": ["a"]}}).encode(),
     "line 2: metadata.labels is not a map of strings"),
    (json.dumps({**CM, "metadata": {"name": "x", "namespace": "shop", "ownerReferences": [{"kind": "X"}]}}).encode(),
     "line 2: metadata.ownerReferences is not a list"),
    (json.dumps({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "subjects": [5],
                 "metadata": {"name": "r", "namespace": "shop"}}).encode(),
     "line 2: subjects is not a list of objects"),
    (json.dumps({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "spec": [],
                 "metadata": {"name": "a.b"}}).encode(), "line 2: spec is a list, not an object"),
])
def test_a_bad_objects_line_is_one_line_error_naming_the_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], line: bytes, says: str) -> None:
    path = forge(tmp_path / "b.tar.gz", {}, lines(CM, line))
    assert says in refused(capsys, path)


def test_a_manifest_that_is_a_list_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = forge(tmp_path / "b.tar.gz", ["not", "an", "object"], lines(CM))
    assert "manifest.json is a list, not an object" in refused(capsys, path)


@pytest.mark.parametrize(("sealed", "says"), [
    ({"nonce": 5, "ciphertext": "AAAA", "alg": "AES-256-GCM"}, "nonce"),
    ({"nonce": "AAAA", "ciphertext": "AAAAAAAAAAAAAAAAAAAAAA==", "alg": "AES-256-GCM"}, "nonce"),
    ({"nonce": base64.b64encode(b"x" * 12).decode(), "ciphertext": [], "alg": "AES-256-GCM"}, "ciphertext"),
    ("sealed", "sealed value"),
])
def test_a_malformed_sealed_value_is_refused_without_a_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], sealed: Any, says: str) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
              bundle.SEALED: sealed}
    err = refused(capsys, forge(tmp_path / "b.tar.gz", {}, lines(CM, secret)))
    assert says in err and "Secret/shop/db" in err


def test_a_sealed_value_moved_onto_a_configmap_is_refused(tmp_path: Path, key: bytes) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
              "data": {"password": base64.b64encode(VALUE.encode()).decode()}}
    sealed = bundle.seal_secret(secret, key)
    moved = {**sealed, "kind": "ConfigMap"}
    with pytest.raises(IntegrityError):
        bundle.open_secret(moved, key)  # the associated data binds the kind
    path = forge(tmp_path / "b.tar.gz", {}, lines(CM, moved))
    with pytest.raises(IntegrityError, match="ConfigMap/shop/db"):
        bundle.read(path)


def test_the_associated_data_binds_api_version_and_kind(key: bytes) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
              "data": {"k": "dg=="}}
    sealed = bundle.seal_secret(secret, key)
    assert bundle.open_secret(sealed, key)["data"] == {"k": "dg=="}
    for field, value in (("kind", "ConfigMap"), ("apiVersion", "evil.example.com/v1")):
        with pytest.raises(IntegrityError):
            bundle.open_secret({**sealed, field: value}, key)


def test_an_old_format_backup_opens_only_its_secrets(tmp_path: Path, key: bytes) -> None:
    """v1 sealed namespace/name only: kept restorable, but a sealed value opens only on a v1 Secret."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = b"n" * 12
    plain = json.dumps({"data": {"k": base64.b64encode(VALUE.encode()).decode()}}).encode()
    record = {"alg": "AES-256-GCM", "key_id": bundle.key_id(key), "nonce": base64.b64encode(nonce).decode(),
              "ciphertext": base64.b64encode(AESGCM(key).encrypt(nonce, plain, b"shop/db")).decode()}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
              bundle.SEALED: record}
    old = forge(tmp_path / "old.tar.gz", {"format": "kubebook-namespace-backup/v1"}, lines(CM, secret))
    assert bundle.read(old).opened(key)[1]["data"]["k"] == base64.b64encode(VALUE.encode()).decode()
    moved = forge(tmp_path / "moved.tar.gz", {"format": "kubebook-namespace-backup/v1"},
                  lines(CM, {**secret, "kind": "ConfigMap"}))
    with pytest.raises(IntegrityError, match="only a v1 Secret"):
        bundle.read(moved)


def test_an_unknown_format_is_refused_with_the_formats_it_reads(tmp_path: Path) -> None:
    path = forge(tmp_path / "b.tar.gz", {"format": "kubebook-namespace-backup/v9"}, lines(CM))
    with pytest.raises(IntegrityError, match="expected one of"):
        bundle.read(path)


def test_an_object_count_that_differs_from_the_manifest_is_refused(tmp_path: Path) -> None:
    path = forge(tmp_path / "b.tar.gz", {"objects": 5}, lines(CM))
    with pytest.raises(IntegrityError, match="manifest says 5"):
        bundle.read(path)


def test_extra_or_missing_members_are_refused(tmp_path: Path) -> None:
    body = lines(CM)
    manifest = {"format": bundle.FORMAT, "namespaces": ["shop"], "objects": 1,
                "objects_sha256": hashlib.sha256(body).hexdigest()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, blob in ((bundle.MANIFEST, json.dumps(manifest).encode()), (bundle.OBJECTS, body),
                           ("../../evil", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    path = tmp_path / "b.tar.gz"
    path.write_bytes(buffer.getvalue())
    bundle.checksum_path(path).write_text(f"{hashlib.sha256(buffer.getvalue()).hexdigest()}  b.tar.gz\n")
    with pytest.raises(IntegrityError, match="unexpected member"):
        bundle.read(path)


def test_objects_bigger_than_the_cap_are_refused_at_once_in_constant_memory(tmp_path: Path) -> None:
    """The tar header says how big objects.jsonl unpacks: a bomb is refused before it is read."""
    body = lines(*([{**CM, "data": {"x": "y" * 1000}}] * 40_000))  # ~41 MB of valid lines
    path = forge(tmp_path / "big.tar.gz", {}, body)
    tracemalloc.start()
    try:
        with pytest.raises(IntegrityError, match=r"unpacks to 4\d\.\d MiB, over the cap of 8 MiB"):
            bundle.read(path, max_bytes=8 * 2**20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # bounded by the tar stream's 10 KiB read inflated at deflate's worst ratio (1:1032), whatever the file's size
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB while refusing"


def test_a_line_longer_than_any_api_object_is_refused(tmp_path: Path) -> None:
    huge = json.dumps({**CM, "data": {"x": "y" * (bundle.MAX_LINE_BYTES + 10)}}).encode()
    path = forge(tmp_path / "b.tar.gz", {}, lines(CM, huge))
    with pytest.raises(IntegrityError, match="line 2 is longer than"):
        bundle.read(path)


def test_the_cli_names_the_cap_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = forge(tmp_path / "b.tar.gz", {}, lines(*([CM] * 20_000)))
    code = main(["dr", "restore-namespace", str(path), "--dry-run", "--max-size", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "--max-size" in err and "cap of 1 MiB" in err


def test_a_damaged_file_still_reads_as_a_checksum_failure(tmp_path: Path) -> None:
    path = forge(tmp_path / "b.tar.gz", {}, lines(CM, CM))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="fails its checksum"):
        bundle.read(path)


def test_a_secret_in_clear_in_a_backup_is_refused(tmp_path: Path) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
              "data": {"k": "dg=="}}
    with pytest.raises(IntegrityError, match="Secret/shop/db holds values in clear"):
        bundle.read(forge(tmp_path / "b.tar.gz", {}, lines(CM, secret)))


def test_bad_input_never_is_a_generic_error(tmp_path: Path) -> None:
    """Every refusal above is a ParameterError (exit 2), never a KeyError/TypeError traceback."""
    path = forge(tmp_path / "b.tar.gz", {"namespaces": "shop"}, lines(CM))
    with pytest.raises(ParameterError, match="namespaces"):
        bundle.read(path)
