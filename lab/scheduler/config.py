"""KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1), decoded strictly.

kube-scheduler decodes its configuration case-sensitively and rejects unknown fields
("strict decoding error: unknown field"), then validates the extenders
(`validateExtenders`): a positive weight when prioritizeVerb is set, at most one binder,
managedResources that are extended-resource names with no duplicates. This module does the
same so a configuration that would stop kube-scheduler also stops the lab.

Errors: `ConfigError` (a ValueError) with the field path, the value and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_EXTENDER_TIMEOUT = 5.0

_TOP = {
    "apiVersion", "kind", "parallelism", "leaderElection", "clientConnection", "healthzBindAddress",
    "metricsBindAddress", "debuggingConfiguration", "percentageOfNodesToScore", "podInitialBackoffSeconds",
    "podMaxBackoffSeconds", "profiles", "extenders", "delayCacheUntilActive",
}  # fmt: skip
_PROFILE = {"schedulerName", "percentageOfNodesToScore", "plugins", "pluginConfig"}
_EXTENDER = {
    "urlPrefix", "filterVerb", "preemptVerb", "prioritizeVerb", "weight", "bindVerb", "enableHTTPS",
    "tlsConfig", "httpTimeout", "nodeCacheCapable", "managedResources", "ignorable",
}  # fmt: skip
_TLS = {"insecure", "serverName", "certFile", "keyFile", "caFile", "certData", "keyData", "caData"}
_RESOURCE = {"name", "ignoredByScheduler"}
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class ConfigError(ValueError):
    """The configuration kube-scheduler would refuse; the message names the field and the fix."""


@dataclass(frozen=True, slots=True)
class ManagedResource:
    name: str
    ignored_by_scheduler: bool = False


@dataclass(frozen=True, slots=True)
class ExtenderConfig:
    url_prefix: str
    filter_verb: str = ""
    prioritize_verb: str = ""
    bind_verb: str = ""
    preempt_verb: str = ""
    weight: int = 0
    enable_https: bool = False
    tls_config: Mapping[str, Any] | None = None
    http_timeout: float = DEFAULT_EXTENDER_TIMEOUT
    node_cache_capable: bool = False
    managed_resources: tuple[ManagedResource, ...] = ()
    ignorable: bool = False


@dataclass(frozen=True, slots=True)
class Profile:
    scheduler_name: str = DEFAULT_SCHEDULER
    percentage_of_nodes_to_score: int | None = None


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    extenders: tuple[ExtenderConfig, ...] = ()
    profiles: tuple[Profile, ...] = (Profile(),)
    percentage_of_nodes_to_score: int = 0  # 0 = adaptive (50 - nodes/125, at least 5)
    pod_initial_backoff: float = 1.0
    pod_max_backoff: float = 10.0
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def scheduler_names(self) -> frozenset[str]:
        return frozenset(p.scheduler_name for p in self.profiles)

    @property
    def ignored_resources(self) -> frozenset[str]:
        """Resources NodeResourcesFit skips: managedResources with ignoredByScheduler."""
        return frozenset(
            r.name for e in self.extenders for r in e.managed_resources if r.ignored_by_scheduler
        )


def load(path: str) -> SchedulerConfig:
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"scheduler configuration {path}: cannot read it: {e}") from e
    return parse(doc)


def parse(doc: object) -> SchedulerConfig:
    top = _mapping("", doc)
    _known(top, "", _TOP)
    if top.get("apiVersion") != API_VERSION or top.get("kind") != KIND:
        raise ConfigError(
            f"apiVersion/kind {top.get('apiVersion')!r}/{top.get('kind')!r}: not a scheduler configuration; "
            f"write apiVersion: {API_VERSION}, kind: {KIND}"
        )
    pct = _int("percentageOfNodesToScore", top.get("percentageOfNodesToScore", 0), 0, 100)
    initial = _int("podInitialBackoffSeconds", top.get("podInitialBackoffSeconds", 1), 1, 2**31)
    maximum = _int("podMaxBackoffSeconds", top.get("podMaxBackoffSeconds", 10), 1, 2**31)
    if maximum < initial:
        raise ConfigError(f"podMaxBackoffSeconds {maximum}: less than podInitialBackoffSeconds {initial}")
    profiles = tuple(
        _profile(f"profiles[{i}]", p) for i, p in enumerate(_list("profiles", top.get("profiles")))
    )
    names = [p.scheduler_name for p in profiles]
    if len(set(names)) != len(names):
        raise ConfigError(f"profiles: duplicate schedulerName in {names}; give each profile its own name")
    extenders = tuple(
        _extender(f"extenders[{i}]", e) for i, e in enumerate(_list("extenders", top.get("extenders")))
    )
    _validate_extenders(extenders)
    return SchedulerConfig(
        extenders=extenders,
        profiles=profiles or (Profile(),),
        percentage_of_nodes_to_score=pct,
        pod_initial_backoff=float(initial),
        pod_max_backoff=float(maximum),
        raw=top,
    )


def parse_duration(path: str, value: object) -> float:
    """A Go duration string ("2s", "1m30s", "500ms", "1.5s") in seconds."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f'{path} {value!r}: not a duration; write e.g. "2s" or "500ms"')
    text = value[1:] if value[0] in "+-" else value
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if m is None:
            raise ConfigError(f'{path} {value!r}: not a duration; write e.g. "2s" or "500ms"')
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return -total if value[0] == "-" else total


def is_extended_resource_name(name: str) -> bool:
    """v1helper.IsExtendedResourceName: domain-prefixed, not kubernetes.io, and
    `requests.<name>` is a valid qualified name."""
    if "/" not in name or "kubernetes.io/" in name or name.startswith("requests."):
        return False
    prefix, _, short = ("requests." + name).partition("/")
    return (
        bool(_DNS_SUBDOMAIN.match(prefix))
        and len(prefix) <= 253
        and bool(_QUALIFIED.match(short))
        and len(short) <= 63
    )


def _profile(path: str, value: object) -> Profile:
    raw = _mapping(path, value)
    _known(raw, path, _PROFILE)
    name = raw.get("schedulerName", DEFAULT_SCHEDULER)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}.schedulerName {name!r}: give a non-empty name")
    pct = raw.get("percentageOfNodesToScore")
    return Profile(name, None if pct is None else _int(f"{path}.percentageOfNodesToScore", pct, 0, 100))


def _extender(path: str, value: object) -> ExtenderConfig:
    raw = _mapping(path, value)
    _known(raw, path, _EXTENDER)
    url = _str(f"{path}.urlPrefix", raw.get("urlPrefix", ""))
    if not url:
        raise ConfigError(
            f"{path}.urlPrefix: missing; give the extender's base URL, e.g. http://127.0.0.1:8888"
        )
    tls = raw.get("tlsConfig")
    if tls is not None:
        _known(_mapping(f"{path}.tlsConfig", tls), f"{path}.tlsConfig", _TLS)
    resources = []
    for j, r in enumerate(_list(f"{path}.managedResources", raw.get("managedResources"))):
        rpath = f"{path}.managedResources[{j}]"
        rm = _mapping(rpath, r)
        _known(rm, rpath, _RESOURCE)
        resources.append(
            ManagedResource(
                _str(f"{rpath}.name", rm.get("name", "")), _bool(f"{rpath}.ignoredByScheduler", rm)
            )
        )
    timeout = raw.get("httpTimeout")
    seconds = DEFAULT_EXTENDER_TIMEOUT if timeout is None else parse_duration(f"{path}.httpTimeout", timeout)
    return ExtenderConfig(
        url_prefix=url,
        filter_verb=_str(f"{path}.filterVerb", raw.get("filterVerb", "")),
        prioritize_verb=_str(f"{path}.prioritizeVerb", raw.get("prioritizeVerb", "")),
        bind_verb=_str(f"{path}.bindVerb", raw.get("bindVerb", "")),
        preempt_verb=_str(f"{path}.preemptVerb", raw.get("preemptVerb", "")),
        weight=_int(f"{path}.weight", raw.get("weight", 0), -(2**63), 2**63 - 1),
        enable_https=_bool(f"{path}.enableHTTPS", raw),
        tls_config=tls,
        http_timeout=seconds if seconds > 0 else DEFAULT_EXTENDER_TIMEOUT,
        node_cache_capable=_bool(f"{path}.nodeCacheCapable", raw),
        managed_resources=tuple(resources),
        ignorable=_bool(f"{path}.ignorable", raw),
    )


def _validate_extenders(extenders: tuple[ExtenderConfig, ...]) -> None:
    seen: set[str] = set()
    binders = 0
    for i, e in enumerate(extenders):
        if e.prioritize_verb and e.weight <= 0:
            raise ConfigError(f"extenders[{i}].weight {e.weight}: must have a positive weight applied to it")
        binders += bool(e.bind_verb)
        for j, r in enumerate(e.managed_resources):
            where = f"extenders[{i}].managedResources[{j}].name {r.name!r}"
            if not is_extended_resource_name(r.name):
                raise ConfigError(f"{where}: must be an extended resource name, e.g. example.com/ip")
            if r.name in seen:
                raise ConfigError(f"{where}: duplicate extender managed resource name")
            seen.add(r.name)
    if binders > 1:
        raise ConfigError(
            f"extenders: found {binders} extenders implementing bind; only one extender can implement bind"
        )


def _known(raw: Mapping[str, Any], path: str, allowed: set[str]) -> None:
    for key in raw:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise ConfigError(f'strict decoding error: unknown field "{where}"; check the spelling and case')


def _mapping(path: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path or 'configuration'}: expected a mapping, got {type(value).__name__}")
    return value


def _list(path: str, value: object) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list, got {type(value).__name__}")
    return value


def _str(path: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{path} {value!r}: expected a string")
    return value


def _bool(path: str, raw: Mapping[str, Any]) -> bool:
    value = raw.get(path.rsplit(".", 1)[-1], False)
    if not isinstance(value, bool):
        raise ConfigError(f"{path} {value!r}: expected true or false")
    return value


def _int(path: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{path} {value!r}: expected an integer in {low}..{high}")
    return value
