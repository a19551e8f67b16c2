"""Build and cache the upstream binaries of the local control plane.

Each recipe is a committed wrapper Go module (``gomod/<recipe>/go.mod`` + ``go.sum``)
that pins an upstream release by checksum; we only run ``go build``. Binaries are
cached by version under ``<cache>/bin/<recipe>-<version>/`` and a version counts
as cached only once all of its binaries are in place (builds go to a temporary
folder that is renamed at the end), so an interrupted build is simply redone.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kubebook.errors import BuildError
from kubebook.localcluster.paths import cache_dir

GOMOD_ROOT = Path(__file__).resolve().parent / "gomod"
NETWORK_SIGNS = ("dial tcp", "no such host", "i/o timeout", "proxyconnect", "connection refused",
                 "TLS handshake timeout", "server misbehaving")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Recipe:
    """A wrapper module and the binaries built from it."""

    name: str
    main_module: str
    binaries: dict[str, str]
    one_invocation: bool = True
    tags: str = ""
    version_ldflags: tuple[str, ...] = ()
    assets: dict[str, str] = field(default_factory=dict)
    real_node: bool = False  # needed only by a real worker node: built for `cluster up --real-nodes N`
    own_code: bool = False  # our own Go program (no upstream pin): versioned by a hash of its sources
    metrics: bool = False  # needed only by the metrics pipeline: built for `cluster up --with-metrics`

    @property
    def module_dir(self) -> Path:
        return GOMOD_ROOT / self.name

    @property
    def version(self) -> str:
        if self.own_code:
            digest = hashlib.sha256()
            for source in [*sorted(self.module_dir.glob("*.go")), self.module_dir / "go.mod"]:
                digest.update(source.read_bytes())
            return f"src-{digest.hexdigest()[:12]}"
        text = (self.module_dir / "go.mod").read_text()
        match = re.search(rf"^\s*(?:require\s+)?{re.escape(self.main_module)}\s+(v\S+)", text, re.MULTILINE)
        if not match:
            raise BuildError(f"{self.module_dir / 'go.mod'} does not require {self.main_module}")
        return match.group(1)

    @property
    def install_dir(self) -> Path:
        return cache_dir() / "bin" / f"{self.name}-{self.version}"

    def path(self, binary: str) -> Path:
        return self.install_dir / binary

    def is_cached(self) -> bool:
        return all(self.path(b).is_file() for b in self.binaries) and all(
            (self.install_dir / a).exists() for a in self.assets)


def _kubernetes_ldflags(version: str) -> list[str]:
    major, minor = version.lstrip("v").split(".")[:2]
    prefix = "k8s.io/component-base/version"
    return [f"-X {prefix}.gitVersion={version}", f"-X {prefix}.gitMajor={major}", f"-X {prefix}.gitMinor={minor}",
            f"-X {prefix}.gitTreeState=clean", f"-X k8s.io/client-go/pkg/version.gitVersion={version}"]


RECIPES: dict[str, Recipe] = {
    "kubernetes": Recipe(
        "kubernetes", "k8s.io/kubernetes",
        {name: f"k8s.io/kubernetes/cmd/{name}" for name in
         ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet")},
        tags="selinux,notest", version_ldflags=("kubernetes",)),
    "etcd": Recipe(
        "etcd", "go.etcd.io/etcd/server/v3",
        {"etcd": "go.etcd.io/etcd/server/v3", "etcdctl": "go.etcd.io/etcd/etcdctl/v3",
         "etcdutl": "go.etcd.io/etcd/etcdutl/v3"}, one_invocation=False),
    "kwok": Recipe(
        "kwok", "sigs.k8s.io/kwok", {"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
        assets={"stages": "kustomize/stage"}),
    # The real worker node (see localcluster/node/): runtime, pod network, policy agent, images.
    "containerd": Recipe(
        "containerd", "github.com/containerd/containerd/v2",
        {name: f"github.com/containerd/containerd/v2/cmd/{name}" for name in
         ("containerd", "containerd-shim-runc-v2", "ctr")},
        tags="urfave_cli_no_docs,no_btrfs,no_devmapper,no_zfs", real_node=True),
    "cri-tools": Recipe("cri-tools", "sigs.k8s.io/cri-tools", {"crictl": "sigs.k8s.io/cri-tools/cmd/crictl"},
                        real_node=True),
    "cni": Recipe(
        "cni", "github.com/containernetworking/plugins",
        {name: f"github.com/containernetworking/plugins/plugins/{kind}/{name}" for kind, name in
         (("main", "bridge"), ("ipam", "host-local"), ("main", "loopback"), ("meta", "portmap"))},
        real_node=True),
    "kube-router": Recipe(
        "kube-router", "github.com/cloudnativelabs/kube-router/v2",
        {"kube-router": "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"}, real_node=True),
    "registry": Recipe(
        "registry", "github.com/distribution/distribution/v3",
        {"registry": "github.com/distribution/distribution/v3/cmd/registry"}, real_node=True),
    "pause": Recipe("pause", "", {"pause": "."}, real_node=True, own_code=True),
    # The metrics pipeline (see localcluster/metrics.py): metrics.k8s.io and a Prometheus keeping the history.
    "metrics-server": Recipe("metrics-server", "sigs.k8s.io/metrics-server",
                             {"metrics-server": "sigs.k8s.io/metrics-server/cmd/metrics-server"}, metrics=True),
    # remove_all_sd: static targets are all it scrapes; the cloud service discoveries would triple the build.
    "prometheus": Recipe("prometheus", "github.com/prometheus/prometheus",
                         {"prometheus": "github.com/prometheus/prometheus/cmd/prometheus"}, tags="remove_all_sd",
                         metrics=True),
}


def binary(name: str) -> Path:
    """Path of a built binary (``kube-apiserver``, ``etcd``, ``kwok`` ...), or BuildError if not built."""
    for recipe in RECIPES.values():
        if name in recipe.binaries:
            path = recipe.path(name)
            if not path.is_file():
                raise BuildError(f"{name} is not built ({path} missing)", hint="run 'kubebook cluster build'")
            return path
    raise BuildError(f"unknown binary {name!r}; known: {sorted(b for r in RECIPES.values() for b in r.binaries)}")


def _go() -> str:
    go = shutil.which("go")
    if not go:
        raise BuildError("the Go toolchain was not found on PATH",
                         hint="install Go 1.26 (the local control plane is built from upstream Go modules)")
    return go


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false -mod=readonly"})
    return env


def _run_go(args: list[str], cwd: Path, log_path: Path, progress: Progress, label: str) -> None:
    started = time.monotonic()
    with log_path.open("a") as log:
        log.write(f"$ go {' '.join(args)}\n")
        log.flush()
        process = subprocess.Popen([_go(), *args], cwd=cwd, env=_environment(), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        compiled, last_report = 0, started
        for line in process.stdout:
            log.write(line)
            if not line.startswith((" ", "#", "go:")):
                compiled += 1
            if time.monotonic() - last_report > 15:
                last_report = time.monotonic()
                progress(f"  {label}: {compiled} packages compiled ({int(last_report - started)}s)")
        code = process.wait()
    if code != 0:
        tail = log_path.read_text().splitlines()[-15:]
        text = "\n".join(tail)
        if any(sign in text for sign in NETWORK_SIGNS):
            raise BuildError(f"building {label} needs the Go module proxy ({os.environ.get('GOPROXY', 'default')}), "
                             "which could not be reached", hint=f"check network access; full log: {log_path}")
        raise BuildError(f"go build of {label} failed (exit {code}):\n{text}", hint=f"full log: {log_path}")


def build_recipe(recipe: Recipe, progress: Progress = print, force: bool = False) -> Path:
    """Build one recipe into the cache unless it is already there; return its folder."""
    if recipe.is_cached() and not force:
        progress(f"{recipe.name} {recipe.version}: cached in {recipe.install_dir}")
        return recipe.install_dir
    root = cache_dir() / "bin"
    root.mkdir(parents=True, exist_ok=True)
    logs = cache_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"build-{recipe.name}-{recipe.version}.log"
    log_path.write_text("")
    progress(f"{recipe.name} {recipe.version}: building {', '.join(recipe.binaries)} (log: {log_path})")
    staging = Path(tempfile.mkdtemp(prefix=f".{recipe.name}-", dir=root))
    try:
        ldflags = ["-s", "-w"]
        if recipe.version_ldflags:
            ldflags += _kubernetes_ldflags(recipe.version)
        common = ["build", "-v", "-trimpath", "-ldflags", " ".join(ldflags)]
        if recipe.tags:
            common += ["-tags", recipe.tags]
        if recipe.one_invocation:
            _run_go([*common, "-o", f"{staging}/", *recipe.binaries.values()], recipe.module_dir, log_path,
                    progress, recipe.name)
        else:
            for name, package in recipe.binaries.items():
                _run_go([*common, "-o", str(staging / name), package], recipe.module_dir, log_path, progress,
                        f"{recipe.name}/{name}")
        for asset, relative in recipe.assets.items():
            source = _module_source_dir(recipe) / relative
            shutil.copytree(source, staging / asset)
        if recipe.install_dir.exists():
            shutil.rmtree(recipe.install_dir)
        staging.rename(recipe.install_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    progress(f"{recipe.name} {recipe.version}: built into {recipe.install_dir}")
    return recipe.install_dir


def _module_source_dir(recipe: Recipe) -> Path:
    result = subprocess.run([_go(), "list", "-m", "-f", "{{.Dir}}", recipe.main_module], cwd=recipe.module_dir,
                            env=_environment(), capture_output=True, text=True, check=False)
    if result.returncode != 0 or not result.stdout.strip():
        subprocess.run([_go(), "mod", "download", recipe.main_module], cwd=recipe.module_dir, env=_environment(),
                       capture_output=True, text=True, check=False)
        result = subprocess.run([_go(), "list", "-m", "-f", "{{.Dir}}", recipe.main_module],
                                cwd=recipe.module_dir, env=_environment(), capture_output=True, text=True,
                                check=False)
    directory = result.stdout.strip()
    if not directory:
        raise BuildError(f"could not locate the source of {recipe.main_module}: {result.stderr.strip()}")
    return Path(directory)


def build_all(progress: Progress = print, force: bool = False, only: list[str] | None = None,
              real_node: bool = False, metrics: bool = False) -> dict[str, Path]:
    """Build every recipe that is missing (or ``only`` those named); return their folders.

    The real node's recipes are built only when ``real_node`` is set, the metrics pipeline's only
    when ``metrics`` is (or when named in ``only``).
    """
    names = only or [name for name, recipe in RECIPES.items()
                     if (real_node or not recipe.real_node) and (metrics or not recipe.metrics)]
    unknown = sorted(set(names) - set(RECIPES))
    if unknown:
        raise BuildError(f"unknown component(s) {unknown}; choose from {sorted(RECIPES)}")
    return {name: build_recipe(RECIPES[name], progress, force) for name in names}


if __name__ == "__main__":  # pragma: no cover
    build_all(lambda line: print(line, file=sys.stderr, flush=True))
