"""Owner keys: one encode/decode pair, round-trip, and precise rejections."""

from __future__ import annotations

import pytest
from core_strategies import owner_keys
from hypothesis import given, settings

from fip.core.errors import InvalidInput
from fip.core.owner import OwnerKey, OwnerKind


@settings(max_examples=300, deadline=None)
@given(owner_keys())
def test_encode_decode_round_trip(key: OwnerKey) -> None:
    text = key.encode()
    assert OwnerKey.decode(text) == key
    assert str(key) == text
    assert key.workload().instance is None
    expected = text.rsplit("/", 1)[0] if key.instance is not None else text
    assert key.workload().encode() == expected


@settings(max_examples=200, deadline=None)
@given(owner_keys(), owner_keys())
def test_text_order_follows_key_order_by_namespace(a: OwnerKey, b: OwnerKey) -> None:
    if a.namespace != b.namespace:
        assert (a.namespace < b.namespace) == (a < b)


def test_examples() -> None:
    assert OwnerKey.of("default", "StatefulSet", "web", 0).encode() == "default/StatefulSet/web/0"
    assert OwnerKey.decode("db/Deployment/api.v2") == OwnerKey("db", OwnerKind.DEPLOYMENT, "api.v2")
    assert OwnerKey.decode("ns/TApp/t/12").instance == "12"
    # names with underscores broke Galaxy's keys; ours cannot contain the separator at all
    assert OwnerKey.decode("a/Pod/b-c").name == "b-c"


BAD: list[tuple[object, str, str]] = [
    ("default/Deployment", "owner", "namespace/Kind/name"),
    ("a/b/c/d/e", "owner", "namespace/Kind/name"),
    ("default/ReplicaSet/web-5d8f", "owner.kind", "Deployment"),
    ("default/StatefulSet/web", "owner.instance", "non-negative integer"),
    ("default/StatefulSet/web/01", "owner.instance", "without leading zeros"),
    ("default/StatefulSet/web/-1", "owner.instance", "non-negative integer"),
    ("default/Deployment/web/0", "owner.instance", "only StatefulSet and TApp"),
    ("Default/Pod/x", "owner.namespace", "lower-case"),
    ("default/Pod/X_y", "owner.name", "lower-case"),
    ("/Pod/x", "owner.namespace", "non-empty"),
    ("default/Pod/", "owner.name", "non-empty"),
    (42, "owner", "namespace/Kind/name"),
    (None, "owner", "namespace/Kind/name"),
]


@pytest.mark.parametrize(("text", "field", "fix"), BAD)
def test_bad_keys_name_field_value_and_fix(text: object, field: str, fix: str) -> None:
    with pytest.raises(InvalidInput) as err:
        OwnerKey.decode(text)
    assert err.value.field == field
    assert fix in err.value.fix
    assert str(err.value).startswith(f"{field}: ")
