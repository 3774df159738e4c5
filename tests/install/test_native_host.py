"""`recore-connector native-host` as Chrome runs it: length-prefixed JSON on stdio, the caller's
origin as first argument; it starts the companion (detached) and pairs the extension, and serves
no other extension."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.native_host import EXTENSION_ID, EXTENSION_ORIGIN, extension_id_of_key
from tests.conftest import free_port
from tests.install.helpers import ROOT, companions_of, run_host, stop_companions


@pytest.fixture
def host_data(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    yield data
    stop_companions(data)


def _get(port: int, path: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_extension_id_follows_from_the_manifest_key() -> None:
    manifest = json.loads((ROOT / "extension" / "manifest.json").read_text())
    assert extension_id_of_key(manifest["key"]) == EXTENSION_ID
    assert len(base64.b64decode(manifest["key"])) > 256  # a public key (DER), no private part
    assert "PRIVATE" not in (ROOT / "extension" / "manifest.json").read_text()
    assert EXTENSION_ID in (ROOT / "README.md").read_text()


def test_the_host_starts_the_companion_and_pairs_the_extension(host_data: Path) -> None:
    port = free_port()
    [reply] = run_host(host_data, port, EXTENSION_ORIGIN, {"type": "connect", "pair": True})
    assert reply["ok"] is True, reply
    assert reply["port"] == port and reply["started"] is True
    pairing = reply["pairing"]
    assert set(pairing) == {"token", "key_id", "proof_key"}
    # the companion outlived the host, and the token works for this extension's origin
    assert companions_of(host_data)
    origin = EXTENSION_ORIGIN.rstrip("/")
    headers = {"Authorization": f"Bearer {pairing['token']}", "Origin": origin}
    assert _get(port, "/status", headers) == 200
    # asked again: the running companion is used, and without `pair` nothing is issued
    [again] = run_host(host_data, port, EXTENSION_ORIGIN, {"type": "connect"})
    assert again == {"ok": True, "port": port, "started": False, "pairing": None}
    assert len(companions_of(host_data)) == 1


def test_another_extension_is_refused_and_starts_nothing(host_data: Path) -> None:
    port = free_port()
    other = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"
    [reply] = run_host(host_data, port, other, {"type": "connect", "pair": True})
    assert reply["ok"] is False and reply["code"] == "ORIGIN_NOT_ALLOWED"
    assert companions_of(host_data) == []


def test_garbage_on_stdin_is_answered_not_crashed_on(host_data: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.install.helpers import ENV, unframe

    out = subprocess.run(
        [sys.executable, "-m", "companion.cli", "native-host", EXTENSION_ORIGIN]
        + ["--data-dir", str(host_data), "--port", str(free_port())],
        input=b"\x05\x00\x00\x00nope!",
        capture_output=True,
        cwd=ROOT,
        env=ENV,
        timeout=60,
    )
    assert out.returncode == 1
    assert unframe(out.stdout) == [
        {"ok": False, "code": "BAD_MESSAGE", "message": "不正な要求です。"}
    ]
    assert companions_of(host_data) == []


def test_a_pairing_made_up_by_a_program_on_the_port_is_not_handed_on(host_data: Path) -> None:
    """Something that took the port, names itself the companion and answers /pair with a token
    and proof key of its own (with which it could prove itself later): the host checks the
    companion's database and hands nothing on."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    made_up = {"token": "made-up-token", "key_id": "made-up-key", "proof_key": "bWFkZS11cA"}

    class Squatter(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            reply = made_up if self.path.endswith("/pair") else {"app": "recore-connector"}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Squatter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        [reply] = run_host(host_data, port, EXTENSION_ORIGIN, {"type": "connect", "pair": True})
    finally:
        server.shutdown()
        server.server_close()
    assert reply["ok"] is False and reply["code"] == "PAIRING_FAILED"
    assert "made-up" not in json.dumps(reply)
