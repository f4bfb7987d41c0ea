"""Owner keys: who holds a floating IP.

An owner is (namespace, kind, name, instance). A Deployment owns a *set* of IPs, so its key has
no instance; a StatefulSet or TApp instance (ordinal / instance id) and a bare Pod own one IP each.
The one text form is `OwnerKey.encode` / `OwnerKey.decode` — never glue or split these strings
anywhere else (Galaxy's underscore-joined keys broke on names with underscores).

Text form: ``<namespace>/<kind>/<name>`` or ``<namespace>/<kind>/<name>/<instance>``. Kubernetes
names cannot contain ``/``, so the form is unambiguous and sorts by namespace first.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from fip.core.errors import InvalidInput
from fip.core.names import check_label, check_subdomain

_INSTANCE = re.compile(r"^(0|[1-9][0-9]{0,8})$")


class OwnerKind(enum.StrEnum):
    POD = "Pod"
    DEPLOYMENT = "Deployment"
    STATEFULSET = "StatefulSet"
    TAPP = "TApp"


_HAS_INSTANCE = {OwnerKind.STATEFULSET, OwnerKind.TAPP}


@dataclass(frozen=True, order=True, slots=True)
class OwnerKey:
    """Typed owner of IPs. Construct through `OwnerKey.of` to validate."""

    namespace: str
    kind: OwnerKind
    name: str
    instance: str | None = None

    @classmethod
    def of(
        cls, namespace: str, kind: str | OwnerKind, name: str, instance: str | int | None = None
    ) -> OwnerKey:
        check_label("owner.namespace", namespace)
        try:
            k = OwnerKind(kind)
        except ValueError:
            raise InvalidInput(
                "owner.kind",
                kind,
                "is not a kind that owns IPs",
                "use one of " + ", ".join(x.value for x in OwnerKind),
            ) from None
        check_subdomain("owner.name", name)
        inst = None if instance is None else str(instance)
        if k in _HAS_INSTANCE:
            if inst is None or not _INSTANCE.fullmatch(inst):
                raise InvalidInput(
                    "owner.instance",
                    instance,
                    f"is not a {k.value} instance",
                    "give the ordinal / instance id as a non-negative integer without leading zeros",
                )
        elif inst is not None:
            raise InvalidInput(
                "owner.instance",
                instance,
                f"is not allowed for kind {k.value}",
                "only StatefulSet and TApp owners carry an instance",
            )
        return cls(namespace, k, name, inst)

    def encode(self) -> str:
        parts = [self.namespace, self.kind.value, self.name]
        if self.instance is not None:
            parts.append(self.instance)
        return "/".join(parts)

    @classmethod
    def decode(cls, text: object) -> OwnerKey:
        if not isinstance(text, str):
            raise InvalidInput("owner", text, "is not an owner key", "give namespace/Kind/name[/instance]")
        parts = text.split("/")
        if len(parts) not in (3, 4):
            raise InvalidInput(
                "owner", text, "is not an owner key", "write it as namespace/Kind/name[/instance]"
            )
        return cls.of(parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else None)

    def workload(self) -> OwnerKey:
        """The key without its instance: the workload that the instance belongs to."""
        return OwnerKey(self.namespace, self.kind, self.name, None)

    def __str__(self) -> str:
        return self.encode()
