"""Evaluate the control-plane rules of ``rules/controlplane.yaml`` against one collection.

The effective value of a flag is, in order: a config file field that replaces the
flag (kube-scheduler ignores flags when ``--config`` is given), the flag on the
command line, etcd's ``ETCD_*`` environment variable, and finally the upstream
default from the rules file. An absent flag is therefore judged by what the
binary really does, not as "not set". A config file that cannot be read makes the
test :class:`Unknown` (an ERROR finding), never a pass.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebook.audit import yamlload
from kubebook.audit.cpcollect import parse_flags
from kubebook.audit.model import Resource


class Unknown(Exception):
    """The input needed for a verdict could not be read."""


@functools.cache
def rules() -> dict[str, Any]:
    text = (Path(__file__).resolve().parent / "rules" / "controlplane.yaml").read_text(encoding="utf-8")
    return dict(yamlload.load(text))  # PyYAML semantics, parsed by ryaml


@dataclass
class Component:
    """One running (or recorded) control-plane process of a collection."""

    entry: dict[str, Any]
    collection: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.entry["name"])

    @property
    def resource(self) -> Resource:
        return Resource("ControlPlaneComponent", None, str(self.entry.get("instance") or self.name))

    @functools.cached_property
    def flags(self) -> dict[str, str]:
        return parse_flags(list(self.entry.get("argv") or []))

    @property
    def spec(self) -> dict[str, Any]:
        return dict(rules()["components"].get(self.name, {}))

    def config(self, flag: str) -> dict[str, Any]:
        fields = (self.entry.get("configs") or {}).get(flag)
        if not isinstance(fields, dict):
            raise Unknown(f"{flag} {self.flags.get(flag)} was not read")
        if "error" in fields:
            raise Unknown(str(fields["error"]))
        return fields

    def explicit(self, flag: str) -> tuple[str, str] | None:
        """(value, where) when the flag is given on the command line, in the config or the environment."""
        spec = self.spec
        config_flag = spec.get("config_flag")
        field = (spec.get("config_fields") or {}).get(flag)
        if config_flag and field and config_flag in self.flags:
            value = self.config(config_flag).get(field)
            if value is not None:
                return _text(value), f"{field}: {_text(value)} in {self.flags[config_flag]}"
            return None
        if flag in self.flags:
            return self.flags[flag], f"{flag}={self.flags[flag]}"
        prefix = spec.get("env_prefix")
        if prefix:
            env = prefix + flag.lstrip("-").upper().replace("-", "_")
            if env in (self.entry.get("env") or {}):
                return str(self.entry["env"][env]), f"{env}={self.entry['env'][env]}"
        return None

    def value(self, flag: str) -> tuple[str | None, str]:
        """(effective value or None, how it was determined)."""
        if flag.startswith("@"):
            return self.derived(flag)
        found = self.explicit(flag)
        if found:
            return found
        default = (self.spec.get("defaults") or {}).get(flag)
        if default is not None:
            return str(default), f"{flag} unset (upstream default {default or 'empty'})"
        return None, f"{flag} unset"

    def derived(self, name: str) -> tuple[str | None, str]:
        if name == "@admission-plugins":
            enabled = set(self.spec.get("default_admission_plugins") or [])
            enabled |= set(_split(self.flags.get("--enable-admission-plugins")))
            enabled -= set(_split(self.flags.get("--disable-admission-plugins")))
            how = "default plugins" + "".join(f" {op} {self.flags[f]!r}" for op, f in (
                ("+", "--enable-admission-plugins"), ("-", "--disable-admission-plugins")) if f in self.flags)
            return ",".join(sorted(enabled)), f"enabled admission plugins = {how}"
        if name == "@authorizers":
            if "--authorization-config" in self.flags:
                types = [str(t) for t in self.config("--authorization-config").get("authorizers") or []]
                return ",".join(types), f"authorizers {types} in {self.flags['--authorization-config']}"
            return self.value("--authorization-mode")
        if name == "@encryption-provider":
            if "--encryption-provider-config" not in self.flags:
                return None, "no --encryption-provider-config: Secrets are stored unencrypted (identity)"
            providers = self.config("--encryption-provider-config").get("secrets_providers") or []
            where = self.flags["--encryption-provider-config"]
            if not providers:
                return None, f"{where} configures no provider for secrets (stored unencrypted)"
            return str(providers[0]), f"first provider for secrets in {where} is {providers[0]} (of {providers})"
        raise KeyError(f"unknown derived value {name}")


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def run_test(component: Component, test: dict[str, Any], peers: list[Component]) -> tuple[bool, str]:
    """(passed, explanation) of one ``{flag, op, value}`` test; raises Unknown when input is unreadable."""
    flag, op, expected = test["flag"], test["op"], test.get("value")
    if op in ("set", "notset"):
        present = component.explicit(flag)
        text = present[1] if present else f"{flag} not set"
        return (present is not None) == (op == "set"), text
    value, how = component.value(flag)
    if op == "eq":
        return value is not None and value.lower() == str(expected).lower(), how
    if op == "noteq":
        return value is None or value.lower() != str(expected).lower(), how
    if op in ("has", "nothave"):
        inside = str(expected) in _split(value)
        verdict = f"{expected} {'is' if inside else 'is not'} in it"
        return inside == (op == "has"), f"{how}; {verdict}"
    if op == "gte":
        try:
            return value is not None and int(value) >= int(expected), how
        except ValueError:
            return False, f"{how} (not a whole number)"
    if op == "valid_elements":
        items = _split(value)
        weak = [i for i in items if i not in expected]
        return bool(items) and not weak, how + (f"; not allowed: {', '.join(weak)}" if weak else "")
    if op == "loopback":
        try:
            return value is not None and ipaddress.ip_address(value).is_loopback, how
        except ValueError:
            return False, f"{how} (not an IP address)"
    if op == "differs_from":
        return _differs(component, flag, expected, peers)
    raise KeyError(f"unknown operator {op!r} in rules/controlplane.yaml")


def _differs(component: Component, flag: str, other: dict[str, str], peers: list[Component]) -> tuple[bool, str]:
    mine = component.flags.get(flag)
    theirs = [p.flags.get(other["flag"]) for p in peers if p.name == other["component"]]
    theirs = [t for t in theirs if t]
    if not mine:
        return False, f"{flag} not set"
    if not theirs:
        raise Unknown(f"no {other['component']} {other['flag']} in this collection to compare with")
    files = component.collection.get("files") or {}
    digest = (files.get(mine) or {}).get("sha256")
    for path in theirs:
        if path == mine or (digest and (files.get(path) or {}).get("sha256") == digest):
            return False, f"the same CA as {other['component']} {other['flag']}={path}"
    return True, f"differs from {other['component']} {other['flag']}={theirs[0]}"
