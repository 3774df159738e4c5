"""`recore-connector native-host`: the program Chrome starts for the extension (native messaging).

Chrome starts it with the calling extension's origin as its first argument (after checking that
origin against the host manifest's `allowed_origins`) and speaks to it over stdio: each message
is a 32-bit length in the machine's byte order, then that many bytes of UTF-8 JSON. The extension
sends one message, `{"type": "connect", "pair": bool}`; the host makes sure the companion answers
(starting it, detached, when it does not), and, when asked to pair, pairs that origin with the
companion through the ordinary `POST /pair` with a code only it has seen. It answers
`{"ok": true, "port": P, "started": bool, "pairing": {"token", "key_id", "proof_key"} | null}`,
or `{"ok": false, "code": ..., "message": ...}`, then exits. Nothing is typed by anyone.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from companion.api_version import API_HEADER, API_VERSION, APP_NAME
from companion.config import LOOPBACK, Config

log = logging.getLogger(__name__)

HOST_NAME = "jp.recore_connector.companion"
# Follows from the `key` in extension/manifest.json (see `extension_id_of_key`); the README
# gives it too. The host serves this extension only, whatever else a manifest may allow.
EXTENSION_ID = "ciilkpcnnpmdmoplmdnhbdbckhihikeh"
EXTENSION_ORIGIN = f"chrome-extension://{EXTENSION_ID}/"
MAX_MESSAGE_BYTES = 1024 * 1024  # Chrome's own limit for a message to the host
START_TIMEOUT_S = 60.0


def extension_id_of_key(public_key_b64: str) -> str:
    """Chrome's id of an extension with this manifest `key`: the first 32 hex digits of the
    SHA-256 of the DER public key, each digit 0-f written as a letter a-p."""
    digest = hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(digit, 16)) for digit in digest)


class ProtocolError(Exception):
    pass


def read_message(stream: IO[bytes]) -> Any | None:
    """One message from Chrome, or None when Chrome closed the pipe."""
    header = stream.read(4)
    if len(header) < 4:
        return None
    (length,) = struct.unpack("=I", header)
    if length > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {length} bytes")
    body = stream.read(length)
    if len(body) < length:
        raise ProtocolError("message cut short")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("message is not JSON") from exc


def write_message(stream: IO[bytes], message: Any) -> None:
    body = json.dumps(message, ensure_ascii=False).encode("utf-8")
    stream.write(struct.pack("=I", len(body)) + body)
    stream.flush()


def _normal_origin(origin: str) -> str:
    return origin.rstrip("/") + "/"


def _health(port: int) -> dict[str, Any] | None:
    """The companion's /health on `port`, or None when nothing (or something else) answers."""
    request = urllib.request.Request(
        f"http://{LOOPBACK}:{port}/api/v1/health", headers={API_HEADER: str(API_VERSION)}
    )
    try:
        with urllib.request.urlopen(request, timeout=3) as resp:  # noqa: S310 - loopback only
            body = json.loads(resp.read() or b"null")
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def start_companion(config: Config) -> subprocess.Popen[bytes]:
    """`recore-connector serve` in its own session (or process group on Windows), so it
    outlives this host, which Chrome ends as soon as the reply is read."""
    command = [
        sys.executable,
        "-m",
        "companion.cli",
        "serve",
        "--port",
        str(config.port),
        "--data-dir",
        str(config.data_dir),
    ]
    options: dict[str, Any] = {}
    if sys.platform == "win32":
        options["creationflags"] = (
            subprocess.DETACHED_PROCESS  # type: ignore[attr-defined]
            | subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
            | subprocess.CREATE_NO_WINDOW  # type: ignore[attr-defined]
        )
    else:
        options["start_new_session"] = True
    log.info("starting the companion: %s", " ".join(command[2:]))
    # never Chrome's pipes: the companion's output would corrupt the messages
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        **options,
    )


def wait_for_companion(
    port: int, process: subprocess.Popen[bytes], timeout_s: float = START_TIMEOUT_S
) -> dict[str, Any] | None:
    """Its /health once it answers; None when it exited first (the port taken, say) or took
    too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        health = _health(port)
        if health is not None:
            return health
        if process.poll() is not None:
            log.warning("the companion exited at start (%s)", process.returncode)
            return None
        time.sleep(0.2)
    return None


def _pair(config: Config, origin: str) -> dict[str, str]:
    """A pairing for `origin` through the companion's own `POST /pair`, with a fresh code that
    never leaves this process."""
    from companion.cli import new_pairing_code

    code = asyncio.run(new_pairing_code(config))
    request = urllib.request.Request(
        f"http://{LOOPBACK}:{config.port}/api/v1/pair",
        data=json.dumps({"code": code}).encode(),
        headers={
            "Content-Type": "application/json",
            "Origin": origin.rstrip("/"),
            API_HEADER: str(API_VERSION),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback only
        paired = json.loads(resp.read())
    pairing = {key: str(paired[key]) for key in ("token", "key_id", "proof_key")}
    # Whatever answered could be a program that took the port and made up a token and proof
    # key (which it could then prove itself with): only a pairing the companion's own database
    # holds is handed on.
    if not asyncio.run(_issued_by_companion(config, pairing["token"], pairing["key_id"])):
        raise ValueError("the pairing is not in the companion's database")
    return pairing


async def _issued_by_companion(config: Config, token: str, key_id: str) -> bool:
    from sqlalchemy import select

    from companion.db import Database
    from companion.db.models import ApiToken

    db = Database(config.db_url)
    try:
        async with db.session() as s:
            found = await s.scalar(
                select(ApiToken.id).where(
                    ApiToken.token_hash == hashlib.sha256(token.encode()).hexdigest(),
                    ApiToken.key_id == key_id,
                    ApiToken.revoked_at.is_(None),
                )
            )
    finally:
        await db.close()
    return found is not None


def _refusal(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message}


def answer(config: Config, origin: str, message: Any, allowed: set[str]) -> dict[str, Any]:
    """The reply to one message from the extension at `origin`."""
    if _normal_origin(origin) not in allowed:
        log.warning("native host refused origin %r", origin)
        return _refusal("ORIGIN_NOT_ALLOWED", "この拡張機能からは利用できません。")
    if not isinstance(message, dict) or message.get("type") != "connect":
        return _refusal("UNKNOWN_MESSAGE", "不明な要求です。")
    started = False
    health = _health(config.port)
    if health is None:
        process = start_companion(config)
        started = True
        health = wait_for_companion(config.port, process)
        if health is None:
            return _refusal(
                "COMPANION_NOT_STARTED",
                f"コンパニオンを起動できませんでした（ポート{config.port}）。"
                "パソコンを再起動しても続く場合は、IT担当者に連絡してください。",
            )
    if health.get("app") != APP_NAME:
        log.warning("another program answers on port %d", config.port)
        return _refusal(
            "NOT_COMPANION",
            f"ポート{config.port}で別のプログラムが動いています。IT担当者に連絡してください。",
        )
    pairing = None
    if message.get("pair") is True:
        try:
            pairing = _pair(config, origin)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("pairing through the native host failed: %s", exc)
            return _refusal(
                "PAIRING_FAILED",
                "コンパニオンとの接続設定に失敗しました。IT担当者に連絡してください。",
            )
        log.info("paired %s through the native host", origin)
    return {"ok": True, "port": config.port, "started": started, "pairing": pairing}


def run(config: Config, origin: str, allowed_origins: list[str]) -> int:
    """Answer Chrome's messages on stdin/stdout until it closes the pipe."""
    allowed = {_normal_origin(o) for o in allowed_origins}
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # nothing else may write to Chrome's pipe: a stray print would break the framing
    sys.stdout = sys.stderr
    if sys.platform == "win32":  # binary pipes, no CRLF translation
        import msvcrt

        msvcrt.setmode(stdin.fileno(), os.O_BINARY)  # type: ignore[attr-defined]
        msvcrt.setmode(stdout.fileno(), os.O_BINARY)  # type: ignore[attr-defined]
    while True:
        try:
            message = read_message(stdin)
        except ProtocolError as exc:
            log.warning("native host: %s", exc)
            write_message(stdout, _refusal("BAD_MESSAGE", "不正な要求です。"))
            return 1
        if message is None:
            return 0
        reply = answer(config, origin, message, allowed)
        write_message(stdout, reply)
        if not reply["ok"] and reply["code"] == "ORIGIN_NOT_ALLOWED":
            return 1


def host_manifest(launcher: Path | str, origins: list[str]) -> dict[str, Any]:
    """Chrome's native messaging host manifest: which program, for which extensions."""
    return {
        "name": HOST_NAME,
        "description": "ReCORE Connector companion",
        "path": str(launcher),
        "type": "stdio",
        "allowed_origins": [_normal_origin(origin) for origin in origins],
    }


def launcher_text(data_dir: Path, port: int, windows: bool, python: str = sys.executable) -> str:
    """The program a host manifest names (its `path` takes no arguments): runs this host with
    the companion's data dir and port, passing on what Chrome gives (the caller's origin)."""
    if windows:
        return (
            "@echo off\r\n"
            f'"{python}" -m companion.cli native-host --data-dir "{data_dir}" --port {port} %*\r\n'
        )
    quoted = [
        _sh_quote(part)
        for part in (python, "-m", "companion.cli", "native-host", "--data-dir", str(data_dir))
    ]
    return f'#!/bin/sh\nexec {" ".join(quoted)} --port {port} "$@"\n'


def _sh_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
