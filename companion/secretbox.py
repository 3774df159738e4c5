"""Encryption of secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key lives in the OS keyring when a real one is available, otherwise in a 0600 file beside the
data. The database only ever holds ciphertext.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)
KEYRING_SERVICE = "recore-connector"
KEY_FILE = "secret.key"


class SecretBoxError(Exception):
    pass


class SecretBox:
    def __init__(self, key: bytes, where: str) -> None:
        self._fernet = Fernet(key)
        self.where = where  # "keyring" or "file": shown in docs/ops, never the key itself

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode("utf-8")
        except InvalidToken as exc:
            raise SecretBoxError("stored secret cannot be decrypted with this key") from exc

    @classmethod
    def load(cls, data_dir: Path) -> SecretBox:
        key_file = data_dir / KEY_FILE
        if key_file.exists():
            return cls(_read_key_file(key_file), "file")
        keyring = _usable_keyring()
        if keyring is not None:
            username = str(data_dir.resolve())
            stored = keyring.get_password(KEYRING_SERVICE, username)
            if stored is None:
                stored = Fernet.generate_key().decode("ascii")
                keyring.set_password(KEYRING_SERVICE, username, stored)
            return cls(stored.encode("ascii"), "keyring")
        key = Fernet.generate_key()
        _write_key_file(key_file, key)
        return cls(key, "file")


def _usable_keyring():  # type: ignore[no-untyped-def]
    """The OS keyring, or None where there is none (CI, servers) or it is switched off."""
    if os.environ.get("RECORE_CONNECTOR_NO_KEYRING"):
        return None
    try:
        import keyring
        from keyring.backends import fail, null

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring | null.Keyring) or backend.priority <= 0:
            return None
        return keyring
    except Exception as exc:  # a broken keyring must not stop the companion
        log.warning("OS keyring unavailable, using a 0600 key file: %s", type(exc).__name__)
        return None


def _read_key_file(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("key file %s had mode %o; tightening to 0600", path, mode)
        os.chmod(path, 0o600)
    return path.read_bytes().strip()


def _write_key_file(path: Path, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
