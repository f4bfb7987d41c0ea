"""The CRDs in deploy/crds agree with the model parsers.

A small validator for the OpenAPI v3 subset the CRDs use checks the canonical resources of
generated subnets and pools; an unknown keyword in the YAML fails the test, so the schema cannot
grow beyond what is checked here. CEL rules are listed with their Python meaning.
"""

from __future__ import annotations

import copy
import pathlib
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from core_strategies import pools, subnets
from hypothesis import given, settings

from fip.core.errors import InvalidInput
from fip.core.poolspec import MAX_NAMESPACES, POOL_FIELDS, POOL_REQUIRED, parse_pool, pool_to_resource
from fip.core.record import Usage
from fip.core.spec import (
    LIMITS,
    SUBNET_FIELDS,
    SUBNET_REQUIRED,
    parse_subnet,
    subnet_status,
    subnet_to_resource,
)
from fip.core.subnet import Pool, Subnet

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEYWORDS = {
    "type", "description", "properties", "required", "additionalProperties", "items", "maxItems",
    "maxLength", "pattern", "minimum", "maximum", "maxProperties", "format", "default",
    "x-kubernetes-list-type", "x-kubernetes-validations",
}  # fmt: skip
CEL: dict[str, Callable[[dict[str, Any]], bool]] = {
    "has(self.nodeSelector) || has(self.nodeCIDRs)": lambda o: "nodeSelector" in o or "nodeCIDRs" in o,
}


def load(name: str) -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "crds" / name).read_text())
    return crd


def version(crd: dict[str, Any]) -> dict[str, Any]:
    (v,) = crd["spec"]["versions"]
    return v  # type: ignore[no-any-return]


def validate(schema: dict[str, Any], value: object, path: str = "") -> list[str]:
    """Errors of `value` against `schema` (the subset listed in KEYWORDS)."""
    unknown = set(schema) - KEYWORDS
    assert not unknown, f"{path}: schema uses unchecked keywords {unknown}"
    kind = schema["type"]
    types: dict[str, Callable[[object], bool]] = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    }
    if not types[kind](value):
        return [f"{path}: {value!r} is not {kind}"]
    errors: list[str] = []
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}.{key}: required")
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if len(value) > schema.get("maxProperties", len(value)):
            errors.append(f"{path}: too many properties")
        for key, item in value.items():
            if props is not None and key in props:
                errors += validate(props[key], item, f"{path}.{key}")
            elif extra is not None:
                errors += validate(extra, item, f"{path}[{key}]")
            elif props is not None and path:  # the API server prunes unknown fields; we say so
                errors.append(f"{path}.{key}: unknown field (would be pruned)")
        for rule in schema.get("x-kubernetes-validations", []):
            if not CEL[rule["rule"]](value):
                errors.append(f"{path}: {rule['message']}")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{path}: too many items")
        if schema.get("x-kubernetes-list-type") == "set" and len(set(map(repr, value))) != len(value):
            errors.append(f"{path}: duplicate items in a set")
        for i, item in enumerate(value):
            errors += validate(schema["items"], item, f"{path}[{i}]")
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{path}: too long")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, int):
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            errors.append(f"{path}: {value} out of bounds")
        if schema.get("format") == "int64" and not -(2**63) <= value < 2**63:
            errors.append(f"{path}: {value} exceeds int64")
    return errors


SUBNETS = load("subnets.yaml")
POOLS = load("pools.yaml")
SUBNET_SCHEMA = version(SUBNETS)["schema"]["openAPIV3Schema"]
POOL_SCHEMA = version(POOLS)["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize(
    ("crd", "plural", "kind"),
    [(SUBNETS, "subnets", "Subnet"), (POOLS, "pools", "Pool")],
    ids=["subnets", "pools"],
)
def test_crd_identity(crd: dict[str, Any], plural: str, kind: str) -> None:
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{plural}.fip.io"
    spec = crd["spec"]
    assert (spec["group"], spec["scope"], spec["names"]["kind"], spec["names"]["plural"]) == (
        "fip.io",
        "Cluster",
        kind,
        plural,
    )
    v = version(crd)
    assert (v["name"], v["served"], v["storage"]) == ("v1", True, True)
    assert v["subresources"] == {"status": {}}


def _structural(schema: dict[str, Any], path: str = "") -> None:
    """Every node has a type; every object (but metadata) lists properties or additionalProperties."""
    assert "type" in schema, path
    if schema["type"] == "object" and path != ".metadata":
        assert "properties" in schema or "additionalProperties" in schema, path
    for key, sub in schema.get("properties", {}).items():
        _structural(sub, f"{path}.{key}")
    if "items" in schema:
        _structural(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        _structural(schema["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("schema", [SUBNET_SCHEMA, POOL_SCHEMA], ids=["subnets", "pools"])
def test_schemas_are_structural(schema: dict[str, Any]) -> None:
    _structural(schema)


def test_subnet_schema_fields_equal_parser_fields() -> None:
    spec = SUBNET_SCHEMA["properties"]["spec"]
    assert set(spec["properties"]) == set(SUBNET_FIELDS)
    assert set(spec["required"]) == set(SUBNET_REQUIRED)
    for field in ("ranges", "excluded", "reserved", "nodeCIDRs"):
        assert spec["properties"][field]["maxItems"] == LIMITS[field], field
    assert set(spec["properties"]["nodeSelector"]["properties"]) == {"matchLabels"}
    labels = spec["properties"]["nodeSelector"]["properties"]["matchLabels"]
    assert labels["maxProperties"] == LIMITS["matchLabels"]
    status_fields = set(SUBNET_SCHEMA["properties"]["status"]["properties"])
    # conditions are written by fip-controllers, the counts by subnet_status
    assert status_fields == set(subnet_status(Usage("x", 1, 0, 0))) | {"conditions"}


def test_pool_schema_fields_equal_parser_fields() -> None:
    spec = POOL_SCHEMA["properties"]["spec"]
    assert set(spec["properties"]) == set(POOL_FIELDS)
    assert set(spec["required"]) == set(POOL_REQUIRED)
    assert spec["properties"]["namespaces"]["maxItems"] == MAX_NAMESPACES


def test_every_pool_schema_field_is_accepted_by_the_parser() -> None:
    spec = {"subnet": "dc1-a", "size": 3, "namespaces": ["db", "*"]}
    assert set(spec) == set(POOL_SCHEMA["properties"]["spec"]["properties"])
    obj = {"apiVersion": "fip.io/v1", "kind": "Pool", "metadata": {"name": "p"}, "spec": spec}
    assert validate(POOL_SCHEMA, obj) == []
    assert parse_pool(obj).namespaces == {"db", "*"}
    for field in POOL_REQUIRED:
        partial = {**obj, "spec": {k: v for k, v in spec.items() if k != field}}
        assert validate(POOL_SCHEMA, partial) != []
        with pytest.raises(InvalidInput, match="is missing"):
            parse_pool(partial)


MINIMAL_SUBNET = {"cidr": "10.0.1.0/24", "gateway": "10.0.1.1", "nodeCIDRs": ["192.168.1.0/24"]}
SAMPLE_VALUES = {
    "vlan": 7,
    "ranges": ["10.0.1.10-10.0.1.20"],
    "excluded": ["10.0.1.11"],
    "reserved": ["10.0.1.12"],
    "nodeSelector": {"matchLabels": {"fip.io/l2": "a"}},
}


@pytest.mark.parametrize("field", sorted(SUBNET_SCHEMA["properties"]["spec"]["properties"]))
def test_every_schema_field_is_accepted_by_the_parser(field: str) -> None:
    spec = {**MINIMAL_SUBNET, **({field: SAMPLE_VALUES[field]} if field in SAMPLE_VALUES else {})}
    obj = {"apiVersion": "fip.io/v1", "kind": "Subnet", "metadata": {"name": "a"}, "spec": spec}
    assert validate(SUBNET_SCHEMA, obj) == []
    parse_subnet(obj)


@pytest.mark.parametrize("field", SUBNET_REQUIRED)
def test_required_fields_are_required_by_both(field: str) -> None:
    spec = {k: v for k, v in MINIMAL_SUBNET.items() if k != field}
    obj = {"apiVersion": "fip.io/v1", "kind": "Subnet", "metadata": {"name": "a"}, "spec": spec}
    assert validate(SUBNET_SCHEMA, obj) != []
    with pytest.raises(InvalidInput, match=f"spec.{field}: None is missing"):
        parse_subnet(obj)


def test_unknown_field_is_pruned_by_the_schema_and_rejected_by_the_parser() -> None:
    obj = {
        "apiVersion": "fip.io/v1",
        "kind": "Subnet",
        "metadata": {"name": "a"},
        "spec": {**MINIMAL_SUBNET, "x": 1},
    }
    assert any("unknown field" in e for e in validate(SUBNET_SCHEMA, obj))
    with pytest.raises(InvalidInput, match=r"spec\.x"):
        parse_subnet(obj)


def test_no_nodes_is_refused_by_both() -> None:
    spec = {k: v for k, v in MINIMAL_SUBNET.items() if k != "nodeCIDRs"}
    obj = {"apiVersion": "fip.io/v1", "kind": "Subnet", "metadata": {"name": "a"}, "spec": spec}
    assert any("needs nodes" in e for e in validate(SUBNET_SCHEMA, obj))
    with pytest.raises(InvalidInput, match="no nodes"):
        parse_subnet(obj)


@settings(max_examples=150, deadline=None)
@given(subnets())
def test_generated_subnet_resources_validate(subnet: Subnet) -> None:
    res = subnet_to_resource(subnet)
    res["status"] = subnet_status(Usage(subnet.name, subnet.total(), 0, 0))
    assert validate(SUBNET_SCHEMA, res) == []


@settings(max_examples=100, deadline=None)
@given(pools)
def test_generated_pool_resources_validate(pool: Pool) -> None:
    assert validate(POOL_SCHEMA, pool_to_resource(pool)) == []


def test_schema_rejects_what_the_parser_rejects_on_shape() -> None:
    base = {"apiVersion": "fip.io/v1", "kind": "Subnet", "metadata": {"name": "a"}, "spec": MINIMAL_SUBNET}
    for field, value in [
        ("vlan", 4095),
        ("vlan", "1"),
        ("cidr", "10.0.1.0"),
        ("ranges", "x"),
        ("gateway", 1),
    ]:
        obj = copy.deepcopy(base)
        obj["spec"] = {**MINIMAL_SUBNET, field: value}
        assert validate(SUBNET_SCHEMA, obj) != [], (field, value)
        with pytest.raises(InvalidInput):
            parse_subnet(obj)


def _resolve(schema: dict[str, Any], json_path: str) -> dict[str, Any]:
    node = schema
    for part in json_path.lstrip(".").split("."):
        if part == "metadata" and node is schema:
            return {"type": "object"}  # metadata fields (creationTimestamp) come from ObjectMeta
        node = node["properties"][part]
    return node


@pytest.mark.parametrize(
    ("crd", "names"),
    [
        (SUBNETS, ["CIDR", "VLAN", "Total", "Allocated", "Reserved", "Free", "Age"]),
        (POOLS, ["Subnet", "Size", "Allocated", "Age"]),
    ],
    ids=["subnets", "pools"],
)
def test_printer_columns_point_at_schema_fields(crd: dict[str, Any], names: list[str]) -> None:
    schema = version(crd)["schema"]["openAPIV3Schema"]
    columns = version(crd)["additionalPrinterColumns"]
    assert [c["name"] for c in columns] == names
    for col in columns:
        target = _resolve(schema, col["jsonPath"])
        if col["type"] == "date":
            assert col["jsonPath"] == ".metadata.creationTimestamp"
        else:
            assert target["type"] == col["type"], col
