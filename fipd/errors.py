"""Errors of the node daemon: each carries the CNI error code the plugin prints.

    FipError                      (fip.core.errors), and CNIError (fipd.cnispec)
    └── FipdError                 code 100: anything else fipd could not do
        ├── UnknownContainer      code 3: the container / its netns / its state is gone
        ├── TryAgainLater         code 11: Kubernetes or the datapath is busy/unreachable
        ├── PodNotFound           code 101: the pod named in CNI_ARGS does not exist
        ├── NoAllocation          code 102: the pod has no fip.io/allocation annotation (why, what to check)
        ├── BadAllocation         code 103: the annotation does not parse
        ├── WrongNode             code 104: the IP / VLAN cannot live on this node
        ├── DatapathFailed        code 105: the driver failed (everything it made was undone)
        ├── PodReplaced           code 106: the pod now has another UID than the sandbox's
        ├── BindRefused           code 107: the store says the IP belongs to another pod
        └── CheckMismatch         code 108: CHECK found the network differs from what was plugged

Messages are complete sentences for the operator reading `kubectl describe pod` (kubelet puts
the CNI error there): what failed, for which pod / IP, and what to check.
"""

from __future__ import annotations

from fip.core.errors import FipError
from fipd.cnispec import ERR_TRY_AGAIN_LATER, ERR_UNKNOWN_CONTAINER, CNIError


class FipdError(FipError, CNIError):
    """Anything else fipd could not do. It is a `CNIError` too, so a refusal of the daemon and one
    of the request parser reach the runtime as the same JSON (`to_json`). A subclass gives its CNI
    code as a class keyword (`class X(FipdError, code=N)`): the codes below read as one table."""

    code = 100

    def __init_subclass__(cls, code: int | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code

    def __init__(self, msg: str, details: str = "") -> None:
        CNIError.__init__(self, self.code, msg, details)


class UnknownContainer(FipdError, code=ERR_UNKNOWN_CONTAINER): ...


class TryAgainLater(FipdError, code=ERR_TRY_AGAIN_LATER): ...


class PodNotFound(FipdError, code=101): ...


class NoAllocation(FipdError, code=102): ...


class BadAllocation(FipdError, code=103): ...


class WrongNode(FipdError, code=104): ...


class DatapathFailed(FipdError, code=105): ...


class PodReplaced(FipdError, code=106): ...


class BindRefused(FipdError, code=107): ...


class CheckMismatch(FipdError, code=108): ...
