"""The lab scheduler reads KubeSchedulerConfiguration v1 as strictly as kube-scheduler does."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.scheduler.config import ConfigError, parse, parse_duration

FULL: dict[str, Any] = {
    "apiVersion": "kubescheduler.config.k8s.io/v1",
    "kind": "KubeSchedulerConfiguration",
    "percentageOfNodesToScore": 30,
    "podInitialBackoffSeconds": 2,
    "podMaxBackoffSeconds": 20,
    "profiles": [
        {"schedulerName": "default-scheduler"},
        {"schedulerName": "other", "percentageOfNodesToScore": 7},
    ],
    "extenders": [
        {
            "urlPrefix": "http://127.0.0.1:8888/scheduler/",
            "filterVerb": "filter",
            "prioritizeVerb": "prioritize",
            "bindVerb": "bind",
            "weight": 3,
            "nodeCacheCapable": True,
            "httpTimeout": "1500ms",
            "ignorable": False,
            "managedResources": [{"name": "fip.io/ip", "ignoredByScheduler": True}],
        },
        {"urlPrefix": "http://127.0.0.1:9999", "filterVerb": "f", "ignorable": True},
    ],
}


def with_change(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(FULL)
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


def test_full_configuration_is_read_field_for_field() -> None:
    cfg = parse(FULL)
    assert cfg.percentage_of_nodes_to_score == 30
    assert (cfg.pod_initial_backoff, cfg.pod_max_backoff) == (2.0, 20.0)
    assert cfg.scheduler_names == {"default-scheduler", "other"}
    assert cfg.profiles[1].percentage_of_nodes_to_score == 7
    first, second = cfg.extenders
    assert first.url_prefix == "http://127.0.0.1:8888/scheduler/"
    assert (first.filter_verb, first.prioritize_verb, first.bind_verb) == ("filter", "prioritize", "bind")
    assert first.weight == 3 and first.node_cache_capable and not first.ignorable
    assert first.http_timeout == pytest.approx(1.5)
    assert cfg.ignored_resources == {"fip.io/ip"}
    assert second.ignorable and second.http_timeout == 5.0 and second.managed_resources == ()


def test_defaults_without_extenders_or_profiles() -> None:
    cfg = parse({"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"})
    assert cfg.extenders == ()
    assert cfg.scheduler_names == {"default-scheduler"}
    assert (cfg.pod_initial_backoff, cfg.pod_max_backoff, cfg.percentage_of_nodes_to_score) == (1.0, 10.0, 0)


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (["apiVersion"], "kubescheduler.config.k8s.io/v1beta3", "not a scheduler configuration"),
        (["extenders", 0, "enableHttps"], True, 'unknown field "extenders[0].enableHttps"'),
        (["extenders", 0, "URLPrefix"], "x", "unknown field"),
        (["bogus"], 1, 'unknown field "bogus"'),
        (["extenders", 0, "weight"], 0, "must have a positive weight"),
        (["extenders", 1, "bindVerb"], "bind", "only one extender can implement bind"),
        (["extenders", 0, "managedResources", 0, "name"], "cpu", "must be an extended resource name"),
        (
            ["extenders", 0, "managedResources", 0, "name"],
            "kubernetes.io/ip",
            "must be an extended resource name",
        ),
        (["extenders", 0, "httpTimeout"], "5", "not a duration"),
        (["extenders", 0, "httpTimeout"], 5000000000, "not a duration"),
        (["extenders", 0, "nodeCacheCapable"], "true", "expected true or false"),
        (["percentageOfNodesToScore"], 101, "percentageOfNodesToScore"),
        (["podMaxBackoffSeconds"], 1, "less than podInitialBackoffSeconds"),
        (["extenders", 0, "urlPrefix"], "", "urlPrefix: missing"),
    ],
)
def test_invalid_configurations_are_refused_with_the_field(path: list[Any], value: Any, needle: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        parse(with_change(path, value))
    assert needle in str(err.value)


def test_duplicate_managed_resources_across_extenders_are_refused() -> None:
    doc = with_change(["extenders", 1, "managedResources"], [{"name": "fip.io/ip"}])
    with pytest.raises(ConfigError, match="duplicate extender managed resource name"):
        parse(doc)


def test_weight_may_be_zero_without_prioritize() -> None:
    assert parse(with_change(["extenders", 1, "weight"], 0)).extenders[1].weight == 0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2s", 2.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("1.5s", 1.5),
        ("0", 0.0),
        ("1h", 3600.0),
        ("250us", 0.00025),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration("d", text) == pytest.approx(seconds)


def test_zero_timeout_means_the_default_five_seconds() -> None:
    assert parse(with_change(["extenders", 0, "httpTimeout"], "0s")).extenders[0].http_timeout == 5.0


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_EXTENDER_KEYS = st.sampled_from(
    [
        "urlPrefix",
        "filterVerb",
        "prioritizeVerb",
        "bindVerb",
        "weight",
        "httpTimeout",
        "managedResources",
        "nodeCacheCapable",
        "ignorable",
        "tlsConfig",
        "enableHTTPS",
        "unknown",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_EXTENDER_KEYS, _JSON, max_size=6), _JSON)
def test_any_extender_document_is_accepted_or_refused_with_config_error(
    ext: dict[str, Any], other: Any
) -> None:
    doc = {**FULL, "extenders": [ext], "percentageOfNodesToScore": other}
    try:
        cfg = parse(doc)
    except ConfigError as e:
        assert str(e)
    else:
        assert cfg.extenders[0].url_prefix == ext["urlPrefix"]
