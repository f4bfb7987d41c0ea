"""The one module that imports bcc: compile the programs, load them, and read/write the maps.

    dp = Datapath.open(Settings(pin_dir="/sys/fs/bpf/fip"))   # compiles once (~1 s), loads all
    dp.maps.put("services", Frontend(...), FrontendEntry(...))
    dp.tc_fds()        -> (egress fd, ingress fd) for bpf.tc.attach
    dp.attach_cgroup("/sys/fs/cgroup/unified")                # socket mode
    dp.close()         # program fds close; tc filters, cgroup links and pinned maps stay

Compiled once per fipd start: every pod gets the same program fds. The maps are pinned under
`pin_dir` on bpffs (mounted here if it is not): a second compile (fipd restarted) re-opens them,
so connection tracking, affinity and the Service entries outlive the process, and the programs
already attached to pods keep working until they are replaced by the new ones. Layouts come from
the compiled program (bcc's ctypes Key/Leaf types); the codecs below only name the fields.

bcc needs the distro interpreter (`/usr/bin/python3`, or a venv made from it with system
site-packages) and kernel headers under /lib/modules/$(uname -r)/{build,source}. When either is
missing, `Datapath.open` raises `BpfUnavailable` with the reason; callers keep running without
ClusterIP support.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from bpf import source
from bpf.errors import AttachFailed, BpfError, BpfUnavailable, CompileFailed, MapFull
from bpf.maps import PROTOCOLS, Address, Frontend, FrontendEntry, Limits, MapName, MapState

log = logging.getLogger(__name__)
BPF_FS = "/sys/fs/bpf"
STATS = (
    "nat_new",
    "nat_established",
    "reverse_nat",
    "hairpin",
    "no_backend",
    "sock_connect",
    "sock_sendmsg",
    "sock_recvmsg",
    "affinity_hit",
)  # fmt: skip  (index order of lib/maps.h ST_*)
_PROTO_NAMES = {n: p for p, n in PROTOCOLS.items()}
_BPF_F_ALLOW_MULTI = 2
_SOCK_ATTACH = {  # socket-mode program -> bcc BPFAttachType name
    "connect4": "CGROUP_INET4_CONNECT",
    "sendmsg4": "CGROUP_UDP4_SENDMSG",
    "recvmsg4": "CGROUP_UDP4_RECVMSG",
    "getpeername4": "CGROUP_INET4_GETPEERNAME",
}
_SOCK_PROGRAMS = tuple(_SOCK_ATTACH)


@dataclass(frozen=True, slots=True)
class Settings:
    pin_dir: str = f"{BPF_FS}/fip"
    services_max: int = 16384
    backends_max: int = 65536
    ct_max: int = 131072
    affinity_max: int = 65536
    hairpin_ip: str = "169.254.42.1"  # source of a pod reaching itself via its Service
    udp_ct_timeout: float = 30.0  # seconds an idle UDP flow keeps its backend
    redirect_neigh: bool = True

    def cflags(self) -> list[str]:
        flags = [
            f"-I{source.BPF_DIR}",
            f'-DFIP_PIN_DIR="{self.pin_dir}"',
            f"-DFIP_SVC_MAX={self.services_max}",
            f"-DFIP_BE_MAX={self.backends_max}",
            f"-DFIP_CT_MAX={self.ct_max}",
            f"-DFIP_AFF_MAX={self.affinity_max}",
            f"-DFIP_HAIRPIN_IP={_be32(IPv4Address(self.hairpin_ip)):#x}",
            f"-DFIP_UDP_CT_NS={int(self.udp_ct_timeout * 1e9)}ULL",
        ]
        return [*flags, *([] if self.redirect_neigh else ["-DFIP_NO_REDIRECT_NEIGH"])]

    @property
    def limits(self) -> Limits:
        return Limits(services=self.services_max, backends=self.backends_max)


def _be32(ip: IPv4Address) -> int:
    """A network-order address as the u32 the kernel stores (host byte order of the bytes)."""
    return int.from_bytes(ip.packed, sys.byteorder)


def _ip(value: int) -> IPv4Address:
    return IPv4Address(value.to_bytes(4, sys.byteorder))


def _be16(port: int) -> int:
    return int.from_bytes(port.to_bytes(2, "big"), sys.byteorder)


def _port(value: int) -> int:
    return int.from_bytes(value.to_bytes(2, sys.byteorder), "big")


class Datapath:
    """Compiled programs and their pinned maps; one per process."""

    def __init__(self, bpf: Any, settings: Settings, modules: Any) -> None:
        self._bpf = bpf
        self._bcc = modules
        self.settings = settings
        self.maps = Maps(bpf)
        self._fns: dict[str, Any] = {}
        self._refused: dict[str, str] = {}  # program -> why the kernel would not load it

    @classmethod
    def open(cls, settings: Settings) -> Datapath:
        """Compile and load. Raises BpfUnavailable (node cannot) or CompileFailed (our bug)."""
        try:
            import bcc
        except ImportError as err:
            raise BpfUnavailable(
                f"cannot import bcc under {sys.executable}: {err}; run fipd with the distro "
                "python3 (or a venv made with --system-site-packages) and install python3-bpfcc"
            ) from err
        ensure_bpffs()
        os.makedirs(settings.pin_dir, exist_ok=True)
        try:
            compiled = bcc.BPF(text=source.assemble().encode(), cflags=settings.cflags())
        except Exception as err:
            headers = f"/lib/modules/{os.uname().release}/build"
            if not os.path.exists(headers):
                raise BpfUnavailable(
                    f"no kernel headers at {headers}: install linux-headers-$(uname -r) or link the "
                    "closest ones (scripts/setup.sh does); ClusterIP is unavailable on this node"
                ) from err
            raise CompileFailed(f"bcc could not compile bpf/*.c: {err}") from err
        dp = cls(compiled, settings, bcc)
        dp._check_pins()
        dp._load()
        return dp

    def _check_pins(self) -> None:
        """bcc re-opens a pinned map whatever its layout; a map pinned by a fip with other structs
        would only fail later, in the verifier, with no word about why. Compare first."""
        for short in ("services", "backends", "revnat", "ct", "affinity", "pods", "sockrev"):
            table = self.maps.table(short)
            have = _map_info(table.map_fd)
            want = (ctypes.sizeof(table.Key), ctypes.sizeof(table.Leaf))
            if have is not None and have[:2] != want:
                self.close()
                raise CompileFailed(
                    f"pinned map {self.settings.pin_dir}/{short} has key/value sizes {have[0]}/{have[1]}, "
                    f"this fip needs {want[0]}/{want[1]} (pinned by another fip version): remove "
                    f"{self.settings.pin_dir} and restart fipd (connections through Services re-balance)"
                )
            if have is not None and have[2] != table.max_entries:
                where = f"{self.settings.pin_dir}/{short}"
                log.warning("pinned map %s holds %d entries, not %d as configured; remove pins to resize",
                            where, have[2], table.max_entries)  # fmt: skip

    def _load(self) -> None:
        bpf, kinds = self._bcc.BPF, self._bcc.BPFAttachType
        wanted = {
            "tc_egress": (bpf.SCHED_CLS, -1),
            "tc_ingress": (bpf.SCHED_CLS, -1),
            **{short: (bpf.CGROUP_SOCK_ADDR, getattr(kinds, name)) for short, name in _SOCK_ATTACH.items()},
        }
        for short, (kind, attach) in wanted.items():
            name = f"fip_{short}" if short.startswith("tc") else f"fip_sock_{short}"
            try:
                self._fns[short] = self._bpf.load_func(name.encode(), kind, attach_type=attach)
            except Exception as err:  # e.g. a kernel without cgroup sock_addr hooks: tc mode may still work
                self._refused[short] = f"the kernel refused program {name}: {err}"
        if not self._fns:
            self.close()
            raise CompileFailed("; ".join(self._refused.values()))

    def _need(self, *shorts: str) -> None:
        refused = [self._refused[s] for s in shorts if s in self._refused]
        if refused:
            raise AttachFailed("; ".join(refused))

    def tc_fds(self) -> tuple[int, int]:
        """The tc programs' fds. Raises AttachFailed if the kernel refused them at load."""
        self._need("tc_egress", "tc_ingress")
        return self._fns["tc_egress"].fd, self._fns["tc_ingress"].fd

    # ---- socket mode ---------------------------------------------------------------------

    def attach_cgroup(self, cgroup: str) -> None:
        """Attach the socket programs to cgroup2 directory `cgroup` (multi-attach, so other
        programs there stay). Programs of an earlier fipd (pinned under pin_dir) are detached only
        after ours are in: no moment without translation."""
        self._need(*_SOCK_PROGRAMS)
        fd = _open_dir(cgroup)
        try:
            for short in _SOCK_PROGRAMS:
                fn, kind = self._fns[short], self._attach_type(short)
                pin = self._prog_pin(cgroup, short)
                old = self._bcc.libbcc.lib.bpf_obj_get(pin.encode()) if os.path.exists(pin) else -1
                try:
                    self._bpf.attach_func(fn, fd, kind, _BPF_F_ALLOW_MULTI)
                except Exception as err:
                    raise AttachFailed(f"attach {fn.name.decode()} to cgroup {cgroup}: {err}") from err
                if old >= 0:
                    self._bcc.libbcc.lib.bpf_prog_detach2(old, fd, kind)
                    os.close(old)
                    os.unlink(pin)
                if self._bcc.libbcc.lib.bpf_obj_pin(fn.fd, pin.encode()) != 0:
                    raise AttachFailed(f"pin {pin}: {os.strerror(ctypes.get_errno() or 1)}")
        finally:
            os.close(fd)

    def detach_cgroup(self, cgroup: str) -> None:
        """Remove our socket programs from `cgroup` (idempotent), also an earlier fipd's."""
        try:
            fd = _open_dir(cgroup)
        except AttachFailed:
            return
        try:
            for short in _SOCK_PROGRAMS:
                pin = self._prog_pin(cgroup, short)
                kind = self._attach_type(short)
                if short in self._fns:
                    self._bcc.libbcc.lib.bpf_prog_detach2(self._fns[short].fd, fd, kind)
                if os.path.exists(pin):
                    old = self._bcc.libbcc.lib.bpf_obj_get(pin.encode())
                    if old >= 0:
                        self._bcc.libbcc.lib.bpf_prog_detach2(old, fd, kind)
                        os.close(old)
                    os.unlink(pin)
        finally:
            os.close(fd)

    def _attach_type(self, short: str) -> Any:
        return getattr(self._bcc.BPFAttachType, _SOCK_ATTACH[short])

    def _prog_pin(self, cgroup: str, short: str) -> str:
        tag = cgroup.strip("/").replace("/", "_") or "root"
        return f"{self.settings.pin_dir}/prog_{short}_{tag}"[:250]

    def close(self) -> None:
        """Close our fds. Attached programs and pinned maps stay (that is the point)."""
        self._bpf.cleanup()


class Maps:
    """Typed access to the pinned maps: domain values in, domain values out."""

    def __init__(self, bpf: Any) -> None:
        self._bpf = bpf

    def table(self, name: str) -> Any:
        return self._bpf[f"fip_{name}".encode()]

    def put(self, name: MapName, key: Any, value: Any) -> None:
        table = self.table(name)
        k, v = _ENCODE[name](table, key, value)
        try:
            table[k] = v
        except Exception as err:  # bcc raises a bare Exception with the errno text
            text = str(err)
            if "E2BIG" in text or "No space" in text or "Argument list too long" in text:
                raise MapFull(f"map {name} is full ({table.max_entries} entries): {key}") from err
            raise BpfError(f"write {key} -> {value} into map {name}: {text}") from err

    def delete(self, name: MapName, key: Any) -> None:
        table = self.table(name)
        k, _ = _ENCODE[name](table, key, None)
        with contextlib.suppress(KeyError):
            del table[k]

    def read(self) -> MapState:
        """Everything the sync owns, as it is in the kernel now (the start-up full re-sync)."""
        state = MapState()
        for k, v in self.table("services").items():
            fe = Frontend(_ip(k.vip), _port(k.port), _PROTO_NAMES.get(k.proto, str(k.proto)))
            state.services[fe] = FrontendEntry(v.id, v.count, v.affinity_timeout)
        for k, v in self.table("backends").items():
            state.backends[(k.id, k.slot)] = Address(_ip(v.ip), _port(v.port))
        for k, v in self.table("revnat").items():
            state.revnat[k.value] = Address(_ip(v.vip), _port(v.port))
        return state

    def stats(self) -> dict[str, int]:
        table = self.table("stats")
        return {name: int(table.sum(table.Key(i)).value) for i, name in enumerate(STATS)}

    def count(self, name: str) -> int:
        return sum(1 for _ in self.table(name))

    def pods(self) -> Iterator[int]:
        for k in self.table("pods"):
            yield int(k.value)

    def add_pod(self, cookie: int, ifindex: int = 0) -> None:
        table = self.table("pods")
        leaf = table.Leaf()
        leaf.ifindex = ifindex
        table[table.Key(cookie)] = leaf

    def remove_pod(self, cookie: int) -> None:
        table = self.table("pods")
        with contextlib.suppress(KeyError):
            del table[table.Key(cookie)]


def _services(table: Any, key: Frontend, value: FrontendEntry | None) -> tuple[Any, Any]:
    k = table.Key()
    k.vip, k.port, k.proto = _be32(key.vip), _be16(key.port), PROTOCOLS[key.proto]
    if value is None:
        return k, None
    v = table.Leaf()
    v.id, v.count, v.affinity_timeout = value.id, value.count, value.affinity_timeout
    return k, v


def _backends(table: Any, key: tuple[int, int], value: Address | None) -> tuple[Any, Any]:
    k = table.Key()
    k.id, k.slot = key
    if value is None:
        return k, None
    v = table.Leaf()
    v.ip, v.port = _be32(value.ip), _be16(value.port)
    return k, v


def _revnat(table: Any, key: int, value: Address | None) -> tuple[Any, Any]:
    if value is None:
        return table.Key(key), None
    v = table.Leaf()
    v.vip, v.port = _be32(value.ip), _be16(value.port)
    return table.Key(key), v


_ENCODE: dict[str, Callable[[Any, Any, Any], tuple[Any, Any]]] = {
    "services": _services,
    "backends": _backends,
    "revnat": _revnat,
}


class _MapInfo(ctypes.Structure):
    """The head of the kernel's struct bpf_map_info (uapi, stable)."""

    _fields_ = [
        (n, ctypes.c_uint32) for n in ("type", "id", "key_size", "value_size", "max_entries", "flags")
    ]


def _map_info(fd: int) -> tuple[int, int, int] | None:
    """(key size, value size, max entries) of map `fd` via BPF_OBJ_GET_INFO_BY_FD; None if unknown."""
    libc = ctypes.CDLL(None, use_errno=True)
    info = _MapInfo()

    class Attr(ctypes.Structure):
        _fields_ = [("bpf_fd", ctypes.c_uint32), ("info_len", ctypes.c_uint32), ("info", ctypes.c_uint64)]

    attr = Attr(fd, ctypes.sizeof(info), ctypes.addressof(info))
    sys_bpf, obj_get_info_by_fd = 321, 15
    if libc.syscall(sys_bpf, obj_get_info_by_fd, ctypes.byref(attr), ctypes.sizeof(attr)) != 0:
        return None
    return info.key_size, info.value_size, info.max_entries


def ensure_bpffs(path: str = BPF_FS) -> None:
    """Mount bpffs at `path` if nothing is mounted there (pins need it)."""
    if os.path.ismount(path):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"bpf", path.encode(), b"bpf", 0, None) != 0:
        err = ctypes.get_errno()
        raise BpfUnavailable(f"cannot mount bpffs at {path}: {os.strerror(err)}; mount it (mount -t bpf "
                             f"bpf {path}) or run fipd as root")  # fmt: skip


def _open_dir(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as err:
        raise AttachFailed(f"open cgroup {path}: {err.strerror}; is cgroup2 mounted there?") from err


def remove_pins(pin_dir: str) -> None:
    """Delete every pin under `pin_dir` and the directory (tests; uninstall)."""
    if not os.path.isdir(pin_dir):
        return
    for name in os.listdir(pin_dir):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(pin_dir, name))
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(pin_dir)
