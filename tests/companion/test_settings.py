"""Settings: validation with field and rule, write-only secrets, encryption at rest."""

from __future__ import annotations

import logging

from companion.settings import DEFAULT_STATUS_MAPPING

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


async def test_secret_in_a_log_line_is_redacted(companion, auth, caplog) -> None:
    caplog.set_level(logging.INFO)
    await companion.put("/api/v1/settings", json={"business_password": PASSWORD}, headers=auth)
    logging.getLogger("companion.test").error("oops: login failed for %s", PASSWORD)
    from companion.logs import REDACTED, RedactSecrets

    record = caplog.records[-1]
    RedactSecrets().filter(record)
    assert PASSWORD not in record.getMessage()
    assert REDACTED in record.getMessage()


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
