"""The runner image's layer cache: the same bytes as a fresh build, reused only while the files are unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubebook.localcluster import images
from kubebook.localcluster.images import Entry
from kubebook.localcluster.node import runner_image


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KUBEBOOK_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "layers"


def entries(tmp_path: Path) -> list[Entry]:
    source = tmp_path / "tool.py"
    if not source.exists():
        source.write_text("print('hi')\n")
    return [Entry("/opt", folder=True, mode=0o755), Entry("/opt/tool.py", source=source),
            Entry("/opt/data", data=b"x" * 100), Entry("/opt/link", link="tool.py")]


def test_assembled_image_is_byte_for_byte_what_images_image_builds(tmp_path: Path) -> None:
    layers = [entries(tmp_path), [Entry("/etc", folder=True, mode=0o755)]]
    config = {"User": "10001:10001", "Cmd": ["kubebook"]}
    fresh = images.image("kubebook", "0.1.0", layers, config, level=1)
    assembled = runner_image.assemble("kubebook", "0.1.0", [images.layer(e, 1) for e in layers], config)
    assert assembled.manifest == fresh.manifest and assembled.blobs == fresh.blobs
    assert assembled.digest == fresh.digest


def test_a_cached_layer_is_reused_until_one_of_its_files_changes(tmp_path: Path, cache: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    first = runner_image.cached_layer(entries(tmp_path), 1)
    assert first == images.layer(entries(tmp_path), 1)
    assert len(list(cache.glob("*.tar.gz"))) == 1
    calls: list[int] = []
    real_layer = images.layer
    monkeypatch.setattr(images, "layer", lambda e, level: calls.append(1) or real_layer(e, level))
    assert runner_image.cached_layer(entries(tmp_path), 1) == first and calls == []  # read back, not rebuilt
    source = tmp_path / "tool.py"
    source.write_text("print('changed')\n")
    os.utime(source, ns=(1, 1))
    changed = runner_image.cached_layer(entries(tmp_path), 1)
    assert calls == [1] and changed != first and changed == real_layer(entries(tmp_path), 1)


def test_a_corrupt_cached_layer_is_rebuilt_not_served(tmp_path: Path, cache: Path) -> None:
    first = runner_image.cached_layer(entries(tmp_path), 1)
    (blob,) = cache.glob("*.tar.gz")
    blob.write_bytes(b"garbage")
    assert runner_image.cached_layer(entries(tmp_path), 1) == first


def test_pruning_keeps_the_most_recently_used_layers(tmp_path: Path, cache: Path) -> None:
    for n in range(4):
        runner_image.cached_layer([Entry(f"/f{n}", data=str(n).encode())], 1)
        os.utime(next(cache.glob(f"{runner_image.fingerprint([Entry(f'/f{n}', data=str(n).encode())], 1)}.tar.gz")),
                 (n + 10, n + 10))
    runner_image.cached_layer([Entry("/f0", data=b"0")], 1)  # a hit makes it the newest
    runner_image.prune_layer_cache(keep=2)
    kept = {p.name.split(".")[0] for p in cache.glob("*.tar.gz")}
    assert kept == {runner_image.fingerprint([Entry(f"/f{n}", data=str(n).encode())], 1) for n in (0, 3)}
    assert len(list(cache.glob("*.json"))) == 2
