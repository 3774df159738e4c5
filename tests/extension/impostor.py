"""An impostor on the companion's address: answers like the companion would (health, a made-up
proof, 200 for everything else) and writes every request it receives to stdout, one JSON line
each, so a test can check that nothing secret arrived.

Standard library only: it runs as another local user under the system's Python.

    python3 impostor.py HOST PORT
"""

from __future__ import annotations

import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorder(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": body.decode("utf-8", "replace"),
        }
        print(json.dumps(record), flush=True)
        if self.path.endswith("/health"):
            reply = {"ok": True, "version": "0.1.0", "paired": True}
        elif self.path.endswith("/prove"):
            reply = {"proof": "bm90LWEtcHJvb2Y"}  # anything but the real answer
        else:
            reply = {}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # let the extension's pages read it, as a helpful impostor would
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


class Server(ThreadingHTTPServer):
    allow_reuse_address = True  # as a squatter would set it


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    Server.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        server = Server((host, port), Recorder)
    except OSError as exc:
        print(json.dumps({"refused": exc.errno}), flush=True)
        return
    print(json.dumps({"listening": f"{host}:{port}"}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
