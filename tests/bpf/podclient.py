"""A client for the bpf tests, run inside a pod namespace (stdlib only).

    podclient.py http  < "ip:port" lines   -> one line per target: the body, or
                                              "ERR <reason> (after <seconds> s)"
    podclient.py udp   < "ip:port" lines   -> one line per target: the reply (sendto/recvfrom,
                                              unconnected) and the address it came from
    podclient.py udpc  < "ip:port" lines   -> the same over a connected UDP socket
    podclient.py peer  < "ip:port" lines   -> the peer address a TCP socket reports after connect

Each target gets a fresh connection (a new source port), with a 2 s timeout.
"""

from __future__ import annotations

import socket
import sys
import time


def http(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=2) as s:
        s.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1].decode()


def peer(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=2) as s:
        address = s.getpeername()
    return f"{address[0]}:{address[1]}"


def udp(host: str, port: int, connected: bool) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        if connected:
            s.connect((host, port))
            s.send(b"ping")
            data, peer = s.recv(65535), s.getpeername()
        else:
            s.sendto(b"ping", (host, port))
            data, peer = s.recvfrom(65535)
    return f"{data.decode()} from {peer[0]}:{peer[1]}"


def main() -> None:
    mode = sys.argv[1]
    for line in sys.stdin:
        host, port = line.strip().rsplit(":", 1)
        started = time.monotonic()
        try:
            if mode == "peer":
                out = peer(host, int(port))
            elif mode == "http":
                out = http(host, int(port))
            else:
                out = udp(host, int(port), mode == "udpc")
        except OSError as err:
            out = f"ERR {type(err).__name__}: {err} (after {time.monotonic() - started:.3f} s)"
        print(out, flush=True)


if __name__ == "__main__":
    main()
