"""Settings: validation with field and rule, write-only secrets, encryption at rest."""

from __future__ import annotations

import logging

from companion.settings import DEFAULT_STATUS_MAPPING
from tests.conftest import pair_client

PASSWORD = "Yahoo-P@ss-9f8e7d6c"
API_KEY = "eyJhbGciOiJIUzI1NiJ9.secret-recore-key.sig"


async def test_defaults(companion, auth) -> None:
    body = await (await companion.get("/api/v1/settings", headers=auth)).json()
    assert body["recore_api_url"] == "https://co-api.recore-pos.com"
    assert body["sync_interval_minutes"] == 0
    assert body["status_mapping"] == DEFAULT_STATUS_MAPPING
    assert body["yahoo_password"] == {"set": False}


async def test_secrets_are_write_only_and_encrypted_at_rest(
    companion, auth, data_dir, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    resp = await companion.put(
        "/api/v1/settings",
        json={"yahoo_password": PASSWORD, "recore_api_key": API_KEY, "yahoo_id": "shop"},
        headers=auth,
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["yahoo_password"] == {"set": True}
    assert body["recore_api_key"] == {"set": True}
    text = await (await companion.get("/api/v1/settings", headers=auth)).text()
    assert PASSWORD not in text and API_KEY not in text
    # nowhere in the data dir (database, WAL, key file, logs) in plaintext
    for path in data_dir.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert PASSWORD.encode() not in raw, path
            assert API_KEY.encode() not in raw, path
    assert PASSWORD not in caplog.text and API_KEY not in caplog.text
    # the code that needs it gets it back
    from companion.keys import SETTINGS

    assert await companion.app[SETTINGS].secret("yahoo_password") == PASSWORD
    # and null clears it
    resp = await companion.put("/api/v1/settings", json={"yahoo_password": None}, headers=auth)
    assert (await resp.json())["yahoo_password"] == {"set": False}


async def test_key_file_is_private(companion, auth, data_dir) -> None:
    key = data_dir / "secret.key"
    assert key.exists()
    assert key.stat().st_mode & 0o777 == 0o600


def test_secrets_never_reach_the_log_file_even_in_tracebacks(tmp_path) -> None:
    from companion.logs import REDACTED, redact, setup_logging

    redact(PASSWORD)
    root = logging.getLogger()
    before = list(root.handlers)
    setup_logging(tmp_path)
    try:
        log = logging.getLogger("companion.test")
        log.error("login failed for %s", PASSWORD)
        try:
            raise RuntimeError(f"GET https://example.invalid/?key={PASSWORD} failed")
        except RuntimeError:
            log.exception("request failed")
    finally:
        for handler in root.handlers[len(before) :]:
            handler.close()
            root.removeHandler(handler)
    text = (tmp_path / "companion.log").read_text(encoding="utf-8")
    assert "RuntimeError" in text and "login failed for" in text
    assert PASSWORD not in text
    assert text.count(REDACTED) == 2


async def test_stored_secrets_are_known_to_redaction_after_a_restart(
    make_companion, data_dir
) -> None:
    from companion import logs

    first = await make_companion()
    token = await pair_client(first)
    await first.put(
        "/api/v1/settings",
        json={"business_password": PASSWORD},
        headers={"Authorization": f"Bearer {token}"},
    )
    await first.close()
    logs._SECRETS.clear()  # a new process knows nothing
    await make_companion()
    assert logs.scrub(f"x {PASSWORD} y") == f"x {logs.REDACTED} y"


async def test_invalid_settings_name_field_and_rule(companion, auth) -> None:
    resp = await companion.put(
        "/api/v1/settings",
        json={
            "recore_api_url": "http://co-api.example.com",
            "sync_interval_minutes": 7,
            "ec_account_id": "abc",
            "mail_from": "not-an-address",
            "status_mapping": {"未処理": "発送済"},
            "nonsense": 1,
        },
        headers=auth,
    )
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_FAILED"
    fields = error["fields"]
    assert set(fields) == {
        "recore_api_url",
        "sync_interval_minutes",
        "ec_account_id",
        "mail_from",
        "status_mapping",
        "nonsense",
    }
    assert "https" in fields["recore_api_url"]
    assert "5" in fields["sync_interval_minutes"]
    assert "未処理" in fields["status_mapping"]
    # nothing was stored from the rejected patch
    body = await (await companion.get("/api/v1/settings", headers=auth)).json()
    assert body["sync_interval_minutes"] == 0


async def test_url_is_normalised_and_custom_mapping_kept(companion, auth) -> None:
    mapping = {**DEFAULT_STATUS_MAPPING, "対応終了": "キャンセル済み", "保留": "保留中"}
    resp = await companion.put(
        "/api/v1/settings",
        json={
            "recore_api_url": "  HTTPS://Co-Api.Recore-Pos.com/ ",
            "sync_interval_minutes": 15,
            "status_mapping": mapping,
        },
        headers=auth,
    )
    body = await resp.json()
    assert body["recore_api_url"] == "https://co-api.recore-pos.com"
    assert body["sync_interval_minutes"] == 15
    assert body["status_mapping"] == mapping
    # loopback http is allowed (the sandboxes)
    resp = await companion.put(
        "/api/v1/settings", json={"recore_api_url": "http://127.0.0.1:9000/"}, headers=auth
    )
    assert (await resp.json())["recore_api_url"] == "http://127.0.0.1:9000"


async def test_bad_json_body_is_400(companion, auth) -> None:
    resp = await companion.put(
        "/api/v1/settings", data=b"{", headers={**auth, "Content-Type": "application/json"}
    )
    assert resp.status == 400
    resp = await companion.put("/api/v1/settings", json=[1, 2], headers=auth)
    assert resp.status == 400


async def test_malformed_urls_and_nested_bodies_are_400(companion, auth) -> None:
    for url in ("https://[::1", "http://127.0.0.1:99999", "ftp://example.com"):
        resp = await companion.put("/api/v1/settings", json={"recore_api_url": url}, headers=auth)
        assert resp.status == 400, url
        assert "recore_api_url" in (await resp.json())["error"]["fields"]
    nested = b"[" * 100_000 + b"]" * 100_000
    resp = await companion.put(
        "/api/v1/settings", data=nested, headers={**auth, "Content-Type": "application/json"}
    )
    assert resp.status == 400
