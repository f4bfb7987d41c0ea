"""`fip-cni`: the CNI plugin executable the container runtime runs for every pod sandbox.

It does almost nothing on purpose: validate the invocation (`fipd.cnispec`), answer VERSION
itself, and forward ADD / DEL / CHECK over fipd's root-only unix socket, then print fipd's
result or error JSON. The standard library is its only dependency and nothing from `fip/` is
imported, so `fipd.install` can inline this file and `cnispec.py` into one self-contained script
started as `/usr/bin/python3 -IS` (no site-packages scan: a few ms instead of a venv start). Even
`json` and `socket` are avoided in favour of their C cores `_json` and `_socket` (see cnispec):
their pure-Python layers import `re` and `enum`, which cost more than the rest of the run.

Wire protocol (one request per connection): the plugin sends
`{"env": {CNI_* variables}, "stdin": "<config text>"}`, shuts down its write side, and reads one
JSON object `{"result": {...}}` (ADD/CHECK), `{"result": null}` (DEL) or `{"error": {code, msg,
details}}` until EOF.

If fipd cannot be reached the error is code 11 (try again later) and says what to check.
"""

from __future__ import annotations

import _socket
import posix
import sys

from fipd.cnispec import (  # fip:inline fipd/cnispec.py
    ERR_IO,
    ERR_TRY_AGAIN_LATER,
    CNIError,
    dumps,
    loads,
    parse_request,
    require_netns,
    version_result,
)

_ERR_INTERNAL = 999
_CNI_ENV = ("CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH")


def forward(sock_path: str, payload: bytes, timeout: float) -> dict[str, object]:
    """Send one request to fipd and return its decoded reply; CNIError if fipd is unreachable."""
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        try:
            conn.connect(sock_path)
        except (FileNotFoundError, ConnectionRefusedError) as err:
            raise CNIError(
                ERR_TRY_AGAIN_LATER,
                "fipd is not running on this node",
                f"cannot connect to {sock_path} ({err.strerror}); check that the fipd DaemonSet pod on this "
                "node is Running and read its log (kubectl -n kube-system logs -l app=fipd); "
                "the runtime retries the sandbox",
            ) from None
        except PermissionError:
            raise CNIError(
                ERR_TRY_AGAIN_LATER,
                "permission denied on the fipd socket",
                f"{sock_path} is root-only; fip-cni must run as root (the container runtime does)",
            ) from None
        conn.sendall(payload)
        conn.shutdown(_socket.SHUT_WR)
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except TimeoutError:
        raise CNIError(
            ERR_TRY_AGAIN_LATER,
            "fipd did not answer in time",
            f"no reply on {sock_path} within {timeout:g} s",
        ) from None
    except OSError as err:
        raise CNIError(ERR_IO, "talking to fipd failed", f"{sock_path}: {err}") from None
    finally:
        conn.close()
    try:
        reply = loads(b"".join(chunks).decode("utf-8"))
    except ValueError:
        raise CNIError(
            ERR_TRY_AGAIN_LATER,
            "fipd closed the connection without an answer",
            f"{sock_path}; it may be restarting",
        ) from None
    if not isinstance(reply, dict):
        raise CNIError(ERR_IO, "fipd sent a reply that is not a JSON object", sock_path)
    return reply


def run(env: dict[str, str], stdin: bytes) -> tuple[int, object]:
    """One invocation: (exit code, JSON to print or None). Never raises."""
    version = "1.0.0"
    try:
        req = parse_request(env, stdin)
        version = req.cni_version
        if req.command == "VERSION":
            return 0, version_result(version)
        if req.command != "DEL":
            require_netns(req.netns)
        payload = dumps({"env": {k: env[k] for k in _CNI_ENV if k in env}, "stdin": stdin.decode("utf-8")})
        reply = forward(req.socket, payload.encode(), req.timeout)
        if "error" in reply:
            err = reply["error"]
            return 1, err if isinstance(err, dict) else CNIError(ERR_IO, str(err)).to_json(version)
        result = reply.get("result")
        return 0, result if req.command != "DEL" else None
    except CNIError as err:
        return 1, err.to_json(version)
    except Exception as err:  # the runtime must get JSON, never a traceback
        return 1, CNIError(_ERR_INTERNAL, "fip-cni internal error", f"{type(err).__name__}: {err}").to_json(
            version
        )


def main() -> None:
    try:
        stdin = sys.stdin.buffer.read(8 << 20)
    except OSError:
        stdin = b""
    # posix.environ, not os.environ: `import os` alone costs ~0.7 ms of start (see cnispec).
    env = {
        k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
        for k, v in posix.environ.items()
    }
    code, out = run(env, stdin)
    if out is not None:
        sys.stdout.write(dumps(out))
        sys.stdout.write("\n")
        sys.stdout.flush()
    # not sys.exit: interpreter finalisation costs ~1 ms of a ~6 ms run and has nothing left to do
    # (stdout is flushed, nothing else is open)
    posix._exit(code)


if __name__ == "__main__":
    main()
