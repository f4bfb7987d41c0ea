"""The Redis store: `Store` over standalone Redis, Redis Cluster or Sentinel (the only redis import).

Atomic steps are the Redis Functions in `functions.lua` (library `fip`, loaded with FUNCTION
LOAD REPLACE when missing or of another version, on every primary). Each touches one subnet,
whose keys share the hash tag `{<subnet>}`, so the same code runs on Redis Cluster. The hot
path is one FCALL per allocate and one per release/bind/reserve.

Global keys (tag `{fip}`): `fip:{fip}:marker` (generation written by `initialise` /
`finish_rebuild`), `fip:{fip}:identity` (the server identity then), `fip:{fip}:rebuilding`,
`fip:{fip}:subnets` (set of names), `fip:{fip}:pools` (hash pool -> subnet). Steps that touch a
subnet and a global key (put_subnet, delete_subnet, put_pool, the rebuild bracket) are
idempotent and safe to retry, not atomic.

Loss detection: each subnet carries a copy of the generation (`gen`); the allocate function
refuses when it is empty (subnet re-created after a loss, or a rebuild in progress) or when the
subnet is gone. It also refuses (`ServerChanged`) when the server's run id differs from the one
the subnet's state was verified on (`rid`, stamped with the generation): a restart from AOF/RDB
or a promoted replica keeps the marker but may have lost the last acknowledged writes, and the
check inside the FCALL leaves no window between noticing and allocating. Python then reads
the marker (error path only) to say which. A server that restarted empty has also lost the
function library: the FCALL fails, the library is reloaded and the call then reports the loss.

redis errors become `StoreUnavailable` (connection, timeout, auth, cluster down) or `StoreError`
(anything else), always `raise ... from`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from importlib import resources
from typing import Any

import redis
import redis.exceptions as rex
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from fip.core.owner import OwnerKey
from fip.core.record import AllocationRecord, IPState, Usage
from fip.core.subnet import IPAddress, Pool, Subnet
from fip.store import encoding as enc
from fip.store import refusals
from fip.store.errors import StoreError, StoreUnavailable
from fip.store.protocol import AllocateRequest, check_pool, check_request
from fip.store.url import StoreURL

MARKER = "fip:{fip}:marker"
REBUILDING = "fip:{fip}:rebuilding"
SUBNETS = "fip:{fip}:subnets"
POOLS = "fip:{fip}:pools"
IDENTITY = "fip:{fip}:identity"
BATCH = 1000  # records per pipeline round trip in record_many
NO_MARKER = "marker missing: the server restarted empty or was flushed"


def _source() -> tuple[str, str]:
    text = resources.files("fip.store").joinpath("functions.lua").read_text()
    version = hashlib.sha256(text.encode()).hexdigest()[:16]
    return text.replace("@VERSION@", version), version


def meta_key(subnet: str) -> str:
    return f"fip:{{{subnet}}}:meta"


def _key(subnet: str, part: str) -> str:
    return f"fip:{{{subnet}}}:{part}"


class _Cluster(RedisCluster):
    """RedisCluster that routes FCALL by its first key without a COMMAND GETKEYS round trip."""

    def determine_slot(self, *args: Any) -> int | None:
        if len(args) > 3 and str(args[0]).upper() in ("FCALL", "FCALL_RO") and int(args[2]) > 0:
            return int(self.keyslot(args[3]))  # type: ignore[no-untyped-call]
        slot: int | None = super().determine_slot(*args)
        return slot


class RedisStore:
    """`Store` on Redis. Construct through `fip.store.factory.open_store(url)`."""

    def __init__(self, url: StoreURL, timeout: float = 5.0) -> None:
        self.url = url
        self.where = f"redis at {url.redacted()}"
        self._code, self._version = _source()
        self._defs: dict[str, tuple[str, Subnet]] = {}
        self._decoded: dict[str, Subnet] = {}  # definition text -> Subnet (subnets())
        self._cluster = url.scheme == "redis+cluster"
        with self._guard():
            self._r: Any = self._connect(url, timeout)
            self._ensure_functions()

    def _connect(self, url: StoreURL, timeout: float) -> Any:
        auth: dict[str, Any] = {"username": url.username or None, "password": url.password or None}
        common: dict[str, Any] = {
            "decode_responses": True,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            **auth,
        }
        # a few quick retries ride out a blip; a down server is reported within about a second
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), 3)
        if url.scheme == "redis+cluster":
            nodes = [ClusterNode(h, p) for h, p in url.hosts]  # type: ignore[no-untyped-call]
            return _Cluster(startup_nodes=nodes, retry=retry, **common)
        common["retry"] = retry
        if url.scheme == "redis+sentinel":
            # the URL's credentials are the master's; Sentinels are asked without them
            sentinel = Sentinel(  # type: ignore[no-untyped-call]
                list(url.hosts), sentinel_kwargs={"socket_timeout": timeout}, **common
            )
            return sentinel.master_for(url.master)  # type: ignore[no-untyped-call]
        host, port = url.hosts[0]
        return redis.Redis(host=host, port=port, db=url.db, ssl=url.tls, **common)

    def close(self) -> None:
        with self._guard():
            self._r.close()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except rex.AuthenticationError as e:
            raise StoreUnavailable(
                f"{self.where}: authentication failed ({e}); check user and password"
            ) from e
        except (rex.ConnectionError, rex.TimeoutError, rex.BusyLoadingError) as e:
            raise StoreUnavailable(
                f"{self.where}: cannot reach Redis ({e}); check that it runs and the URL's host:port"
            ) from e
        except (rex.ClusterDownError, rex.RedisClusterException) as e:
            raise StoreUnavailable(f"{self.where}: Redis Cluster is not usable ({e})") from e
        except rex.RedisError as e:
            raise StoreError(f"{self.where}: Redis refused a command ({e})") from e

    # --- functions ----------------------------------------------------------------------
    def _ensure_functions(self) -> None:
        nodes: list[Any] = self._r.get_primaries() if self._cluster else [None]
        for node in nodes:
            kw = {"target_nodes": node} if node is not None else {}
            try:
                have = self._r.execute_command("FCALL", "fip_version", 0, **kw)
            except rex.ResponseError:
                have = None
            if have != self._version:
                self._r.execute_command("FUNCTION LOAD", "REPLACE", self._code, **kw)

    def _fcall(self, name: str, subnet: str, *args: str) -> list[str]:
        with self._guard():
            try:
                reply: list[str] = self._r.fcall(name, 1, meta_key(subnet), *args)
            except rex.ResponseError as e:
                if "function not found" not in str(e).lower():
                    raise
                self._ensure_functions()  # server restarted empty or library deleted
                reply = self._r.fcall(name, 1, meta_key(subnet), *args)
            return reply

    # --- definitions -------------------------------------------------------------------
    def _definition(self, name: str, fresh: bool = False) -> tuple[str, Subnet]:
        if not fresh and name in self._defs:
            return self._defs[name]
        with self._guard():
            text, ver = self._r.hmget(meta_key(name), "def", "ver")
        if text is None:
            self._defs.pop(name, None)
            raise self._missing(name)
        got = (str(ver), enc.decode_subnet(text))
        self._defs[name] = got
        return got

    def _missing(self, name: str) -> StoreError:
        """Why a subnet's keys are gone: lost state (no marker, or registered but gone) or unknown."""
        with self._guard():
            marker = self._r.get(MARKER)
            known = marker is not None and self._r.sismember(SUBNETS, name)
        if marker is None:
            return refusals.state_lost(self.where, NO_MARKER)
        if known:
            return refusals.state_lost(self.where, f'subnet "{name}" is registered but its keys are gone')
        return refusals.unknown_subnet(name)

    def put_subnet(self, subnet: Subnet) -> None:
        text, ver = enc.encode_subnet(subnet)
        meta = meta_key(subnet.name)
        for _ in range(10):
            with self._guard():
                cur_ver, seq = self._r.hmget(meta, "ver", "seq")
                if cur_ver == ver:
                    self._r.sadd(SUBNETS, subnet.name)
                    return
                if cur_ver is not None:
                    held = self._r.hkeys(_key(subnet.name, "ip"))
                    orphans = sorted(h for h in held if not subnet.requestable(enc.hex_ip(h)))
                    if orphans:
                        shown = [str(enc.hex_ip(h)) for h in orphans[:5]]
                        raise refusals.subnet_in_use(subnet.name, shown, len(orphans), "this change")
                marker, rebuilding = self._r.mget(MARKER, REBUILDING)
                known = bool(self._r.sismember(SUBNETS, subnet.name))
            gen = marker if marker is not None and rebuilding is None else ""
            reply = self._fcall(
                "fip_put_subnet",
                subnet.name,
                text,
                ver,
                str(subnet.total()),
                enc.encode_intervals(subnet),
                enc.encode_subnet_reserved(subnet),
                gen,
                "1" if known else "0",
                "" if cur_ver is None else str(seq),
            )
            if reply[0] == "SEQ":
                continue
            with self._guard():
                self._r.sadd(SUBNETS, subnet.name)
            self._defs[subnet.name] = (ver, subnet)
            return
        raise StoreError(f'{self.where}: subnet "{subnet.name}" kept changing while being updated; retry')

    def delete_subnet(self, name: str) -> None:
        reply = self._fcall("fip_delete_subnet", name)
        if reply[0] == "INUSE":
            with self._guard():
                some = self._r.hrandfield(_key(name, "ip"), 5) or []
            shown = sorted(str(enc.hex_ip(h)) for h in some)
            raise refusals.subnet_in_use(name, shown, int(reply[1]), "deleting it")
        with self._guard():
            self._r.srem(SUBNETS, name)
            for pool, sub in self._r.hgetall(POOLS).items():
                if sub == name:
                    self._r.hdel(POOLS, pool)
        self._defs.pop(name, None)

    def subnets(self) -> list[Subnet]:
        """Pipelined, and a definition whose text did not change is not decoded again (the
        extender re-reads all of them every few seconds)."""
        with self._guard():
            names = sorted(self._r.smembers(SUBNETS))
            pipe = self._r.pipeline(transaction=False)
            for name in names:
                pipe.hget(meta_key(name), "def")
            texts = pipe.execute() if names else []
        out = []
        for text in texts:
            if text is not None:
                subnet = self._decoded.get(text)
                if subnet is None:
                    subnet = self._decoded[text] = enc.decode_subnet(text)
                out.append(subnet)
        if len(self._decoded) > 4 * len(out) + 64:
            live = set(texts)
            self._decoded = {t: sub for t, sub in self._decoded.items() if t in live}
        return out

    def put_pool(self, pool: Pool) -> None:
        check_pool(pool)
        with self._guard():
            old = self._r.hget(POOLS, pool.name)
        if old is not None and old != pool.subnet:
            self._fcall("fip_put_pool", old, pool.name, "-1", "")
        nss = ",".join(sorted(pool.namespaces))
        if self._fcall("fip_put_pool", pool.subnet, pool.name, str(pool.size), nss)[0] == "UNKNOWN":
            raise refusals.unknown_subnet(pool.subnet)
        with self._guard():
            self._r.hset(POOLS, pool.name, pool.subnet)

    def delete_pool(self, name: str) -> None:
        with self._guard():
            subnet = self._r.hget(POOLS, name)
        if subnet is not None:
            self._fcall("fip_put_pool", subnet, name, "-1", "")  # "UNKNOWN": the subnet went first
            with self._guard():
                self._r.hdel(POOLS, name)

    def pools(self) -> list[Pool]:
        out = []
        with self._guard():
            for name, subnet in sorted(self._r.hgetall(POOLS).items()):
                raw = self._r.hget(_key(subnet, "pool"), name)
                if raw is None:
                    continue
                size, _, nss = raw.partition("|")
                out.append(Pool(name, subnet, int(size), frozenset(n for n in nss.split(",") if n)))
        return out

    # --- allocation ----------------------------------------------------------------------
    def allocate(self, req: AllocateRequest) -> AllocationRecord:
        check_request(req)
        reqhex = ver = ""
        for attempt in range(2):
            if req.requested is not None:
                ver, subnet = self._definition(req.subnet, fresh=attempt > 0)
                # an unrequestable address still lets a retry or the owner's reserved IP win
                reqhex = enc.ip_hex(req.requested) if subnet.requestable(req.requested) else "!"
            r = self._fcall(
                "fip_allocate",
                req.subnet,
                req.owner.encode(),
                req.pod_uid,
                req.pod_name,
                req.node,
                req.policy.value,
                repr(float(req.now)),
                reqhex,
                req.pool,
                req.owner.namespace,
                ver,
            )
            status = r[0]
            if status == "OK":
                return enc.decode_record(req.subnet, r[1], r[2])
            if status != "STALEDEF":
                break
        raise self._allocate_refusal(req, r)

    def _allocate_refusal(self, req: AllocateRequest, r: list[str]) -> StoreError:  # noqa: PLR0911 one reply word each
        status, s = r[0], req.subnet
        if status == "UNKNOWN":
            return self._missing(s)
        if status == "LOST":
            with self._guard():
                marker, rebuilding = self._r.mget(MARKER, REBUILDING)
            if rebuilding is not None:
                return refusals.rebuilding(self.where)
            if marker is None:
                return refusals.state_lost(self.where, NO_MARKER)
            return refusals.state_lost(
                self.where, f'subnet "{s}" was re-created after its shard lost its state'
            )
        if status == "NEWSERVER":
            what = f'the Redis server holding subnet "{s}" restarted or failed over'
            return refusals.server_changed(self.where, what)
        if status == "UIDELSE":
            return refusals.uid_elsewhere(s, req.pod_uid, enc.decode_record(s, r[1], r[2]))
        if status == "NOPOOL":
            return refusals.unknown_pool(req.pool, s)
        if status == "FORBIDDEN":
            return refusals.pool_forbidden(req.pool, req.owner.namespace, [n for n in r[1].split(",") if n])
        if status == "POOLFULL":
            return refusals.pool_full(req.pool, s, int(r[1]), int(r[2]))
        if status == "TAKEN":
            return refusals.taken(s, enc.hex_ip(r[1]), enc.decode_record(s, r[1], r[2]))
        if status == "BADREQ":
            return refusals.not_allocatable(s, req.requested)
        if status == "NOFREE":
            return refusals.no_free(Usage(s, int(r[3] or 0), int(r[1] or 0), int(r[2] or 0)))
        return StoreError(
            f'{self.where}: subnet "{s}" changed repeatedly during allocation ({status}); retry'
        )

    def bind(self, subnet: str, ip: IPAddress, pod_uid: str, node: str, now: float) -> AllocationRecord:
        args = (pod_uid, node, repr(float(now)))
        return self._change_holder("bind", subnet, ip, None, pod_uid, *args)

    def reserve(
        self, subnet: str, ip: IPAddress, owner: OwnerKey, expected_uid: str, now: float
    ) -> AllocationRecord:
        args = (owner.encode(), expected_uid, repr(float(now)))
        return self._change_holder("reserve", subnet, ip, owner, expected_uid, *args)

    def _change_holder(
        self, op: str, subnet: str, ip: IPAddress, owner: OwnerKey | None, uid: str, *args: str
    ) -> AllocationRecord:
        """FCALL `fip_<op>` (bind, reserve) on the record of `ip`: the record it wrote, or the
        refusal. A refused call re-reads the subnet first, so a deleted or lost subnet reports
        that rather than a stale request."""
        h = enc.ip_hex(ip)
        r = self._fcall(f"fip_{op}", subnet, h, *args)
        if r[0] == "OK":
            return enc.decode_record(subnet, h, r[1])
        self._definition(subnet, fresh=True)
        holder = enc.decode_record(subnet, h, r[1]) if r[1] else None
        raise refusals.stale(op, subnet, ip, owner=owner, uid=uid, holder=holder)

    def release(
        self, subnet: str, ip: IPAddress, owner: OwnerKey, expected_uid: str, now: float
    ) -> AllocationRecord | None:
        h = enc.ip_hex(ip)
        r = self._fcall("fip_release", subnet, h, owner.encode(), expected_uid, "check")
        if r[0] == "OK":
            return enc.decode_record(subnet, h, r[1])
        if r[0] == "FREE":
            self._definition(subnet, fresh=True)
            return None
        raise refusals.stale(
            "release", subnet, ip, owner=owner, uid=expected_uid, holder=enc.decode_record(subnet, h, r[1])
        )

    def force_release(self, subnet: str, ip: IPAddress) -> AllocationRecord | None:
        h = enc.ip_hex(ip)
        r = self._fcall("fip_release", subnet, h, "", "", "force")
        if r[0] == "OK":
            return enc.decode_record(subnet, h, r[1])
        self._definition(subnet, fresh=True)
        return None

    def record(self, rec: AllocationRecord) -> AllocationRecord:
        if rec.state == IPState.RESERVED and rec.pod_uid:
            rec = replace(rec, pod_uid="")
        h = enc.ip_hex(rec.ip)
        for attempt in range(2):
            ver, subnet = self._definition(rec.subnet, fresh=attempt > 0)
            if not subnet.requestable(rec.ip):
                raise refusals.not_allocatable(rec.subnet, rec.ip)
            r = self._fcall("fip_record", rec.subnet, h, enc.encode_record(rec), ver)
            if r[0] == "OK":
                return enc.decode_record(rec.subnet, h, r[1])
            if r[0] == "TAKEN":
                raise refusals.taken(rec.subnet, rec.ip, enc.decode_record(rec.subnet, r[1], r[2]))
            if r[0] == "UIDELSE":
                raise refusals.uid_elsewhere(
                    rec.subnet, rec.pod_uid, enc.decode_record(rec.subnet, r[1], r[2])
                )
            if r[0] == "UNKNOWN":
                raise self._missing(rec.subnet)
        raise StoreError(f'{self.where}: subnet "{rec.subnet}" changed repeatedly while recording; retry')

    def record_many(self, recs: Sequence[AllocationRecord]) -> list[AllocationRecord | StoreError]:
        """Pipelined FCALLs in chunks of `BATCH`; anything but a plain OK (a refusal, a changed
        definition, a lost library) is redone through `record` for its precise answer."""
        out: list[AllocationRecord | StoreError] = []
        for start in range(0, len(recs), BATCH):
            chunk = [replace(r, pod_uid="") if r.state == IPState.RESERVED and r.pod_uid else r
                     for r in recs[start : start + BATCH]]  # fmt: skip
            calls: list[tuple[int, str]] = []
            results: list[AllocationRecord | StoreError | None] = [None] * len(chunk)
            with self._guard():
                pipe = self._r.pipeline(transaction=False)
                for i, rec in enumerate(chunk):
                    try:
                        ver, subnet = self._definition(rec.subnet)
                    except StoreError as err:
                        results[i] = err
                        continue
                    if not subnet.requestable(rec.ip):
                        results[i] = refusals.not_allocatable(rec.subnet, rec.ip)
                        continue
                    h = enc.ip_hex(rec.ip)
                    pipe.fcall("fip_record", 1, meta_key(rec.subnet), h, enc.encode_record(rec), ver)
                    calls.append((i, h))
                replies = pipe.execute(raise_on_error=False) if calls else []
            for (i, _h), reply in zip(calls, replies, strict=True):
                rec = chunk[i]
                if isinstance(reply, list) and reply and reply[0] == "OK":
                    results[i] = rec  # the function stored exactly these fields
                    continue
                try:
                    results[i] = self.record(rec)
                except StoreUnavailable:
                    raise
                except StoreError as err:
                    results[i] = err
            out += [r for r in results if r is not None]
        return out

    # --- reads ---------------------------------------------------------------------------
    def _exists(self, subnet: str) -> None:
        with self._guard():
            if not self._r.exists(meta_key(subnet)):
                raise refusals.unknown_subnet(subnet)

    def get(self, subnet: str, ip: IPAddress) -> AllocationRecord | None:
        h = enc.ip_hex(ip)
        with self._guard():
            raw = self._r.hget(_key(subnet, "ip"), h)
        if raw is None:
            self._exists(subnet)
            return None
        return enc.decode_record(subnet, h, raw)

    def by_subnet(self, subnet: str) -> list[AllocationRecord]:
        self._exists(subnet)
        with self._guard():
            items = self._r.hgetall(_key(subnet, "ip"))
        recs = [enc.decode_record_cached(subnet, h, raw) for h, raw in items.items()]
        return sorted(recs, key=lambda r: int(r.ip))

    def by_owner(self, owner: OwnerKey) -> list[AllocationRecord]:
        """Pipelined: a constant number of round trips however many subnets there are (the
        extender asks this on every filter and bind; one round trip per subnet cost 30 ms at 200)."""
        key = owner.encode()
        with self._guard():
            subnets = sorted(self._r.smembers(SUBNETS))
            parts = ("o:", "w:") if owner.instance is None else ("o:",)
            keys = [_key(subnet, part + key) for subnet in subnets for part in parts]
            # most owners asked about hold nothing (a new pod): one EXISTS answers that
            if not keys or not self._r.exists(*keys):
                return []
            pipe = self._r.pipeline(transaction=False)
            for subnet in subnets:
                pipe.smembers(_key(subnet, "o:" + key))
                if owner.instance is None:
                    pipe.smembers(_key(subnet, "w:" + key))
            replies = iter(pipe.execute())
            found: dict[str, set[str]] = {}
            instances: list[tuple[str, str]] = []
            for subnet in subnets:
                found[subnet] = set(next(replies))
                if owner.instance is None:
                    instances += [(subnet, inst) for inst in next(replies)]
            if instances:
                pipe = self._r.pipeline(transaction=False)
                for subnet, inst in instances:
                    pipe.smembers(_key(subnet, "o:" + inst))
                for (subnet, _), ips in zip(instances, pipe.execute(), strict=True):
                    found[subnet] |= set(ips)
            wanted = [(subnet, sorted(ips)) for subnet, ips in found.items() if ips]
            pipe = self._r.pipeline(transaction=False)
            for subnet, hexes in wanted:
                pipe.hmget(_key(subnet, "ip"), hexes)
            raws = pipe.execute() if wanted else []
        out: list[AllocationRecord] = []
        for (subnet, hexes), values in zip(wanted, raws, strict=True):
            out += [enc.decode_record(subnet, h, raw) for h, raw in zip(hexes, values, strict=True) if raw]
        return sorted(out, key=lambda r: (r.subnet, int(r.ip)))

    def by_pod(self, subnet: str, pod_uid: str) -> AllocationRecord | None:
        with self._guard():
            h = self._r.hget(_key(subnet, "uid"), pod_uid)
            raw = None if h is None else self._r.hget(_key(subnet, "ip"), h)
        if h is None or raw is None:
            self._exists(subnet)
            return None
        return enc.decode_record(subnet, h, raw)

    def usage(self, subnet: str) -> Usage:
        with self._guard():
            total, alloc, resv = self._r.hmget(meta_key(subnet), "total", "alloc", "resv")
        if total is None:
            raise refusals.unknown_subnet(subnet)
        return Usage(subnet, int(total), int(alloc or 0), int(resv or 0))

    # --- loss detection --------------------------------------------------------------------
    def server_identity(self) -> str:
        """The run id of the (current) primary, or of every cluster primary as `addr=id,...`.
        Behind Sentinel, pooled connections may still point at the old master after a failover
        (reads work there), so the Sentinels are asked first: when they name another master the
        pool drops its connections."""
        with self._guard():
            if self._cluster:
                infos = self._r.info("server", target_nodes=RedisCluster.PRIMARIES)
                return ",".join(f"{addr}={info.get('run_id', '')}" for addr, info in sorted(infos.items()))
            if self.url.scheme == "redis+sentinel":
                self._r.connection_pool.get_master_address()  # resets the pool on a new master
            return str(self._r.info("server").get("run_id", ""))

    def verified_identity(self) -> str:
        with self._guard():
            return str(self._r.get(IDENTITY) or "")

    def check_intact(self) -> None:
        """Marker present, no rebuild running, and every registered subnet still allocating
        (a Redis Cluster shard that restarted empty loses its subnets but not the marker) on the
        server process its state was verified on (`ServerChanged` otherwise: a restart, a
        failover or a moved slot, caught per subnet by the allocate function itself)."""
        with self._guard():
            marker, rebuilding = self._r.mget(MARKER, REBUILDING)
            if rebuilding is not None:
                raise refusals.rebuilding(self.where)
            if marker is None:
                raise refusals.state_lost(self.where, NO_MARKER)
            names = sorted(self._r.smembers(SUBNETS))
        states = {n: self._fcall("fip_state", n)[0] for n in names}
        lost = [n for n, st in states.items() if st not in {"OK", "NEWSERVER"}]
        if lost:
            shown = ", ".join(f'"{n}"' for n in lost[:5])
            raise refusals.state_lost(self.where, f"subnet(s) {shown} lost their keys or allocation state")
        moved = [n for n, st in states.items() if st == "NEWSERVER"]
        if moved:
            shown = ", ".join(f'"{n}"' for n in moved[:5])
            raise refusals.server_changed(
                self.where, f"the Redis server holding subnet(s) {shown} restarted or failed over"
            )

    def initialise(self) -> None:
        with self._guard():
            if self._r.get(MARKER) is not None:
                return
        self.finish_rebuild()

    def _stamp(self, gen: str) -> None:
        with self._guard():
            names = sorted(self._r.smembers(SUBNETS))
        for name in names:
            self._fcall("fip_set_gen", name, gen)

    def begin_rebuild(self) -> None:
        with self._guard():
            self._r.set(REBUILDING, "1")
        self._stamp("")

    def finish_rebuild(self) -> None:
        gen = secrets.token_hex(8)
        with self._guard():
            self._r.set(REBUILDING, "1")
        self._stamp(gen)
        identity = self.server_identity()
        with self._guard():
            self._r.set(MARKER, gen)
            self._r.set(IDENTITY, identity)
            self._r.delete(REBUILDING)
