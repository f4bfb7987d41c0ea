"""CNI 1.0 requests: parse and validate the runtime's environment and stdin.

Standard library only, and no imports from `fip/`: this module is inlined into the single-file
`fip-cni` plugin (see `fipd.install`), which must start in a few milliseconds. fipd parses the
same forwarded environment and stdin again with the same code, so the plugin and the daemon can
never disagree about what a request means.

Errors are `CNIError(code, msg, details)`, printed by the plugin as the spec's error JSON. Codes
(CNI spec 1.0 "Error"): 1 incompatible version, 2 unsupported field, 3 container unknown or gone,
4 invalid environment variables, 5 I/O failure, 6 decode failure, 7 invalid network config,
11 try again later; 100+ are fip's own (see `fipd.daemon`).

Choices where the spec leaves room (documented in fipd/README.md):
  * a container ID or interface name with path characters, or a missing CNI_* variable -> 4
    (as libcni's skel and ValidateContainerID / ValidateInterfaceName do);
  * ADD / CHECK with a netns path that does not exist -> 3 (the container is gone, nothing to
    clean up); a netns value that is not an absolute path -> 4;
  * CHECK with a cniVersion older than 0.4.0 -> 1 (as skel does).
"""

from __future__ import annotations

import _json
import posix  # not `os`: importing os costs the plugin ~0.7 ms; posix is built in and loaded

TYPE_CHECKING = False  # `typing` costs ~2 ms of plugin start; mypy honours this name anyway
if TYPE_CHECKING:
    from collections.abc import Mapping

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")
COMMANDS = ("ADD", "DEL", "CHECK", "VERSION")
DEFAULT_SOCKET = "/run/fip/fipd.sock"
MAX_STDIN = 1 << 20

ERR_INCOMPATIBLE_VERSION = 1
ERR_UNSUPPORTED_FIELD = 2
ERR_UNKNOWN_CONTAINER = 3
ERR_INVALID_ENV = 4
ERR_IO = 5
ERR_DECODE = 6
ERR_INVALID_CONFIG = 7
ERR_TRY_AGAIN_LATER = 11

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ID_CHARS = _ALNUM | frozenset("_.-")
_KEY_CHARS = _ALNUM | frozenset("_")


class CNIError(Exception):
    """An error the plugin prints as CNI error JSON; `msg` says what, `details` the value and fix."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(f"{msg}: {details}" if details else msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self, cni_version: str = "1.0.0") -> dict[str, object]:
        return {"cniVersion": cni_version, "code": self.code, "msg": self.msg, "details": self.details}


class Request:
    """One validated CNI invocation. `args` is CNI_ARGS split into a dict. (A plain class, not a
    dataclass: importing `dataclasses` would cost the plugin ~6 ms of start time.)"""

    __slots__ = ("args", "cni_version", "command", "config", "container_id", "ifname", "netns", "path")

    def __init__(
        self,
        command: str,
        cni_version: str,
        config: dict[str, object],
        *,
        container_id: str = "",
        netns: str = "",
        ifname: str = "",
        path: str = "",
        args: dict[str, str] | None = None,
    ) -> None:
        self.command = command
        self.cni_version = cni_version
        self.config = config
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.path = path
        self.args = args or {}

    @property
    def socket(self) -> str:
        value = self.config.get("socket", DEFAULT_SOCKET)
        return value if isinstance(value, str) else DEFAULT_SOCKET

    @property
    def timeout(self) -> float:
        value = self.config.get("timeout", 60)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 60.0


def parse_request(env: Mapping[str, str], stdin: bytes | str) -> Request:
    """Validate a whole invocation; raises CNIError with the spec's code. Pure: no file access."""
    command = env.get("CNI_COMMAND", "")
    if not command:
        raise CNIError(ERR_INVALID_ENV, "required env variables [CNI_COMMAND] missing", _fix_env())
    if command not in COMMANDS:
        raise CNIError(
            ERR_INVALID_ENV, f"unknown CNI_COMMAND {command!r}", "use one of " + ", ".join(COMMANDS)
        )
    config = parse_config(stdin, version_only=command == "VERSION")
    version = str(config.get("cniVersion", "1.0.0"))
    if command == "VERSION":
        return Request(command, version, config)
    needed = ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"] + (["CNI_NETNS"] if command != "DEL" else [])
    missing = [k for k in needed if not env.get(k)]
    if missing:
        raise CNIError(ERR_INVALID_ENV, f"required env variables [{','.join(missing)}] missing", _fix_env())
    if command == "CHECK" and _version_tuple(version) < (0, 4, 0):
        raise CNIError(
            ERR_INCOMPATIBLE_VERSION, "config version does not allow CHECK", f"cniVersion {version}"
        )
    container_id = check_container_id(env["CNI_CONTAINERID"])
    ifname = check_ifname(env["CNI_IFNAME"])
    netns = check_netns_path(env.get("CNI_NETNS", ""))
    args = parse_args(env.get("CNI_ARGS", ""))
    if command == "ADD":
        for key in ("K8S_POD_NAMESPACE", "K8S_POD_NAME"):
            if not args.get(key):
                raise CNIError(
                    ERR_INVALID_ENV,
                    f"CNI_ARGS lacks {key}",
                    "fip finds the pod's IP by its namespace and name; the container runtime "
                    "(containerd, CRI-O) sets K8S_POD_NAMESPACE and K8S_POD_NAME for Kubernetes pods",
                )
    return Request(
        command,
        version,
        config,
        container_id=container_id,
        netns=netns,
        ifname=ifname,
        path=env["CNI_PATH"],
        args=args,
    )


def parse_config(stdin: bytes | str, *, version_only: bool = False) -> dict[str, object]:
    """The network configuration JSON. VERSION needs only `cniVersion` (and tolerates none)."""
    if len(stdin) > MAX_STDIN:
        raise CNIError(ERR_DECODE, "network configuration on stdin is too large", f"{len(stdin)} bytes")
    try:
        text = stdin.decode("utf-8") if isinstance(stdin, bytes) else stdin
        config = loads(text) if text.strip() or not version_only else {}
    except (ValueError, RecursionError) as err:
        raise CNIError(
            ERR_DECODE, "network configuration on stdin is not valid JSON", str(err)[:200]
        ) from None
    if not isinstance(config, dict):
        raise CNIError(
            ERR_DECODE, "network configuration on stdin is not a JSON object", type(config).__name__
        )
    version = config.get("cniVersion")
    if version is None and version_only:
        return config
    if not isinstance(version, str) or not version:
        raise CNIError(ERR_INVALID_CONFIG, "network configuration lacks cniVersion", 'set e.g. "1.0.0"')
    if version not in SUPPORTED_VERSIONS:
        raise CNIError(
            ERR_INCOMPATIBLE_VERSION,
            f"incompatible CNI version {version[:40]!r}",
            "fip-cni supports " + ", ".join(SUPPORTED_VERSIONS),
        )
    if version_only:
        return config
    for key in ("name", "type"):
        value = config.get(key)
        if not isinstance(value, str) or not is_name(value):
            raise CNIError(
                ERR_INVALID_CONFIG,
                f"network configuration field {key!r} is missing or invalid",
                repr(value)[:80],
            )
    _check_options(config)
    return config


def _check_options(config: dict[str, object]) -> None:
    sock = config.get("socket", DEFAULT_SOCKET)
    if not isinstance(sock, str) or not sock.startswith("/") or "\0" in sock or len(sock) > 100:
        raise CNIError(
            ERR_INVALID_CONFIG,
            "network configuration field 'socket' must be an absolute path",
            repr(sock)[:120],
        )
    timeout = config.get("timeout", 60)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise CNIError(
            ERR_INVALID_CONFIG,
            "network configuration field 'timeout' must be seconds in (0, 600]",
            repr(timeout)[:40],
        )
    prev = config.get("prevResult")
    if prev is not None and not isinstance(prev, dict):
        raise CNIError(ERR_DECODE, "prevResult is not a JSON object", repr(prev)[:80])


def check_container_id(value: str) -> str:
    if len(value) > 256 or not is_name(value):
        raise CNIError(
            ERR_INVALID_ENV,
            "invalid characters in containerID",
            f"{value[:80]!r}: use letters, digits, '_', '.', '-', starting with a letter or digit",
        )
    return value


def check_ifname(value: str) -> str:
    if len(value) > 15:
        raise CNIError(
            ERR_INVALID_ENV,
            "interface name is too long",
            f"{value[:40]!r} has {len(value)} characters; max 15",
        )
    if value in (".", "..") or any(c in "/:\0" or c.isspace() for c in value):
        raise CNIError(
            ERR_INVALID_ENV, "interface name contains / or : or whitespace characters", repr(value)
        )
    return value


def check_netns_path(value: str) -> str:
    if value and (not value.startswith("/") or "\0" in value or len(value) > 4096 or "/../" in value + "/"):
        raise CNIError(ERR_INVALID_ENV, "CNI_NETNS is not an absolute path", repr(value[:200]))
    return value


def require_netns(path: str) -> None:
    """ADD / CHECK: the netns must exist (code 3 if it does not; the container is gone)."""
    try:
        posix.stat(path)
    except FileNotFoundError:
        raise CNIError(
            ERR_UNKNOWN_CONTAINER, "network namespace does not exist", f"CNI_NETNS {path!r}"
        ) from None
    except OSError as err:
        raise CNIError(
            ERR_INVALID_ENV, "cannot open the network namespace", f"CNI_NETNS {path!r}: {err.strerror}"
        ) from None


def parse_args(value: str) -> dict[str, str]:
    """CNI_ARGS: `K=V;K=V`. Keys are identifiers; values may be empty."""
    out: dict[str, str] = {}
    if not value:
        return out
    for part in value.split(";"):
        if not part:
            continue  # tolerate "a=b;" and ";;" (libcni's LoadArgs is stricter; nothing is lost)
        key, sep, val = part.partition("=")
        if not sep or not key or not set(key) <= _KEY_CHARS or key[0].isdigit():
            raise CNIError(ERR_INVALID_ENV, "CNI_ARGS is not KEY=VALUE;KEY=VALUE", repr(part[:80]))
        out[key] = val
    return out


def version_result(cni_version: str) -> dict[str, object]:
    return {"cniVersion": cni_version, "supportedVersions": list(SUPPORTED_VERSIONS)}


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _fix_env() -> str:
    return "the container runtime sets CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME and CNI_PATH"


def is_name(value: str) -> bool:
    """libcni's name rule for container IDs and network names: `[A-Za-z0-9][A-Za-z0-9_.-]*`."""
    return bool(value) and value[0] in _ALNUM and set(value) <= _ID_CHARS


class _Context:
    """The attributes `_json.make_scanner` reads; NaN / Infinity are refused (not JSON)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> object:
        raise ValueError(f"{name} is not valid JSON")


def _no_default(obj: object) -> object:
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


# The C accelerators behind `json`, used directly: `import json` pulls in `re` and `enum`, about
# 5 ms of the plugin's start. Same parser and encoder, minus the pure-Python wrappers.
_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]
_encode = _json.make_encoder(
    None, _no_default, _json.encode_basestring_ascii, None, ":", ",", False, False, False
)
_WS = " \t\n\r"


def loads(text: str) -> object:
    """`json.loads` for one document; ValueError on anything that is not exactly one JSON value."""
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = _scan(text, start)
    except (StopIteration, SystemError):
        # The C scanner reports errors through json.decoder only once that module is loaded;
        # on this (rare) path load it and let `json` produce its usual precise message.
        import json

        json.loads(text)
        raise ValueError(f"expecting a JSON value at character {start}") from None
    if text[end:].strip(_WS):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value


def dumps(value: object) -> str:
    """Compact JSON (ASCII, no NaN)."""
    return "".join(_encode(value, 0))
