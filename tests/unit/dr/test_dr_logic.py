"""Pure parts of the DR engine: drill comparison, restore order and mapping, etcd's embedded hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kubebook.dr import etcd, fingerprint, restore
from kubebook.dr.backup import strip
from kubebook.dr.errors import IntegrityError
from kubebook.errors import ParameterError


def entry(kind: str, name: str, uid: str, rv: int, content: str = "c", ns: str = "a") -> fingerprint.Entry:
    return fingerprint.Entry(kind, ns, name, uid, rv, content)


def fp(*entries: fingerprint.Entry) -> fingerprint.Fingerprint:
    return {e.key: e for e in entries}


def test_compare_lists_lost_created_and_ignores_later_controller_writes() -> None:
    before = fp(entry("ConfigMap", "kept", "u1", 10), entry("ConfigMap", "gone", "u2", 11),
                entry("Node", "n1", "u3", 12))
    disaster = fp(entry("ConfigMap", "kept", "u1", 10), entry("ConfigMap", "gone", "u2", 11),
                  entry("Node", "n1", "u3", 130, "x"), entry("ConfigMap", "late", "u4", 140))
    restored = fp(entry("ConfigMap", "kept", "u1", 10), entry("Node", "n1", "u3", 2_000, "y"))
    result = fingerprint.compare(before, disaster, restored, snapshot_revision=100)
    assert result.expected == 3 and result.restored == 2
    assert result.lost == [{"kind": "ConfigMap", "namespace": "a", "name": "gone", "reason": "missing"}]
    assert result.created_after_snapshot == [{"kind": "ConfigMap", "namespace": "a", "name": "late"}]
    kinds = {row["kind"]: row for row in result.per_kind}
    assert kinds["ConfigMap"] == {"kind": "ConfigMap", "expected": 2, "restored": 1, "lost": 1,
                                  "created_after_snapshot": 1}


def test_content_changed_by_the_restore_itself_is_lost_but_a_later_write_is_not() -> None:
    before = fp(entry("Secret", "s", "u1", 10, "old"))
    changed_by_restore = fp(entry("Secret", "s", "u1", 10, "new"))
    written_later = fp(entry("Secret", "s", "u1", 1_000_000_050, "new"))
    assert fingerprint.compare(before, before, changed_by_restore, 100).lost[0]["reason"] == "content differs"
    later = fingerprint.compare(before, before, written_later, 100)
    assert later.lost == [] and later.changed_after_restore == [{"kind": "Secret", "namespace": "a", "name": "s"}]


def test_a_recreated_object_with_a_new_uid_is_lost() -> None:
    before = fp(entry("ConfigMap", "c", "u1", 10))
    assert fingerprint.compare(before, before, fp(entry("ConfigMap", "c", "u9", 10)), 100).lost[0]["reason"] \
        == "different uid"


def test_restore_order_crds_first_ingress_after_service_owned_last() -> None:
    objs = [{"kind": k, "metadata": {}} for k in ("Widget", "Deployment", "Ingress", "Service", "Secret",
                                                  "ServiceAccount", "Namespace", "CustomResourceDefinition")]
    objs.append({"kind": "ConfigMap", "metadata": {"ownerReferences": [{"kind": "Widget"}]}})
    ordered = [o["kind"] for o in sorted(objs, key=restore.step_of)]
    assert ordered == ["CustomResourceDefinition", "Namespace", "ServiceAccount", "Secret", "Service", "Ingress",
                       "Deployment", "Widget", "ConfigMap"]


def test_mapping_moves_objects_namespaces_and_rolebinding_subjects() -> None:
    mapping = restore.parse_mapping(["shop=shop2"])
    rb = {"kind": "RoleBinding", "metadata": {"name": "r", "namespace": "shop"},
          "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "shop"}]}
    moved = restore.remap(rb, mapping)
    assert moved["metadata"]["namespace"] == "shop2" and moved["subjects"][0]["namespace"] == "shop2"
    assert restore.remap({"kind": "Namespace", "metadata": {"name": "shop"}}, mapping)["metadata"]["name"] == "shop2"
    with pytest.raises(ParameterError, match="not SOURCE=TARGET"):
        restore.parse_mapping(["shop"])


def test_strip_removes_server_set_fields() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "status": {"x": 1},
           "metadata": {"name": "s", "namespace": "a", "uid": "u", "resourceVersion": "5", "managedFields": [],
                        "creationTimestamp": "t", "annotations": {"deployment.kubernetes.io/revision": "1"}},
           "spec": {"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"], "ports": [{"port": 80}]}}
    assert strip(svc) == {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "a"},
                          "spec": {"ports": [{"port": 80}]}}


def snapshot_file(tmp_path: Path) -> Path:
    body = bytes(range(256)) * 8  # 2048 bytes: a multiple of 512, as etcd's bbolt pages are
    path = tmp_path / "snap.db"
    path.write_bytes(body + hashlib.sha256(body).digest())
    return path


def test_embedded_hash_accepts_an_intact_snapshot_and_refuses_a_flipped_byte(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path)
    assert etcd.embedded_hash_ok(path) is True
    etcd.check_file(path, etcd.sha256_file(path))
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    assert etcd.embedded_hash_ok(path) is False
    with pytest.raises(IntegrityError, match="embedded SHA-256"):
        etcd.check_file(path, None)


def test_our_recorded_sha256_is_checked_first(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path)
    with pytest.raises(IntegrityError, match="damaged or was modified"):
        etcd.check_file(path, "0" * 64)
