"""A backend for the bpf tests, run inside a pod namespace: `podserver.py NAME TCP_PORT UDP_PORT`.

HTTP on TCP_PORT: `/` answers NAME (which backend served); `/big/N?rate=R` streams N bytes at
about R bytes/s (a long download). UDP on UDP_PORT: each datagram is answered with
`NAME:<datagram>`. Prints "ready" once both sockets listen. Stdlib only.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

NAME = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path.startswith("/big/"):
            size = int(url.path.split("/")[2])
            rate = float(parse_qs(url.query).get("rate", ["0"])[0])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk, sent, started = 65536, 0, time.monotonic()
            while sent < size:
                n = min(chunk, size - sent)
                self.wfile.write(b"x" * n)
                sent += n
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
            return
        body = NAME.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def udp(s: socket.socket) -> None:
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(NAME.encode() + b":" + data, peer)


def main() -> None:
    http = ThreadingHTTPServer(("0.0.0.0", int(sys.argv[2])), Handler)
    http.daemon_threads = True
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", int(sys.argv[3])))
    threading.Thread(target=udp, args=(sock,), daemon=True).start()
    print("ready", flush=True)
    http.serve_forever()


if __name__ == "__main__":
    main()
