"""One diagnosis run: both checks, the Japanese summary, the redacted zip.

`run_diagnosis` is shared by `recore-connector diagnose` and the options page's 「接続診断」
(through the companion's own store session and ReCORE client). The zip's name is ASCII with the
date and time; it is written under a temporary name and renamed. Everything in it passed the
redactor, which by then knows every buyer and id the checks met.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from companion.diagnose.recore_check import RecoreReport, diagnose_recore
from companion.diagnose.redact import Redactor
from companion.diagnose.yahoo_check import PAGE_NAMES, YahooReport, diagnose_yahoo
from companion.recore.client import RecoreClient
from companion.settings import SECRET_KEYS, SettingsStore
from companion.shop_facts import ShopFacts
from companion.store_session import StoreSession

log = logging.getLogger(__name__)

PERSONAL_FIELDS = ("buyer_name", "buyer_kana", "postal_code", "address", "phone", "mail")
# rows of a page that name a buyer without the connector reading them (their cell is dropped)
OTHER_PERSONAL_LABELS = ("Yahoo! JAPAN ID", "落札者", "お届け先")


@dataclass
class Diagnosis:
    zip_path: Path
    ok: bool
    summary_ja: str
    missing: list[dict[str, str]]  # page, fact
    recore: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "zip": str(self.zip_path),
            "zip_name": self.zip_path.name,
            "summary": self.summary_ja,
            "missing": self.missing,
        }


async def recore_client(
    settings: SettingsStore, session: Any
) -> tuple[RecoreClient | None, list[str]]:
    """A client from the settings, as the ReCORE service makes it (None: what is missing)."""
    url = await settings.get("recore_api_url")
    key = await settings.secret("recore_api_key")
    account = await settings.get("ec_account_id")
    values = {"recore_api_url": url, "recore_api_key": key, "ec_account_id": account}
    missing = [name for name, value in values.items() if value in (None, "")]
    if missing:
        return None, missing
    client = RecoreClient(
        base_url=url,
        api_key=key or "",
        ec_account_id=int(account),
        store_id=await settings.get("store_id"),
        session=session,
        timeout=10.0,
    )
    return client, []


async def make_redactor(settings: SettingsStore, store: StoreSession) -> Redactor:
    facts = store.facts
    secrets = [await settings.secret(k) for k in sorted(SECRET_KEYS)]
    secrets += [await settings.get(k) for k in ("yahoo_id", "business_id")]
    labels = [facts.orders.detail_labels.get(k, "") for k in PERSONAL_FIELDS]
    labels += [facts.orders.list_labels.get("buyer_name", ""), *OTHER_PERSONAL_LABELS]
    return Redactor(
        secrets=secrets,
        personal_labels=labels,
        id_patterns=[facts.texts.bare_auction_id_pattern],
    )


def summary_ja(
    when: datetime,
    recore: RecoreReport,
    yahoo: YahooReport,
    shop_facts: ShopFacts | None,
    zip_name: str,
) -> tuple[str, bool]:
    works: list[str] = list(recore.works_ja)
    problems: list[str] = list(recore.problems_ja)
    if yahoo.problem_ja:
        problems.append(f"ヤフオク: {yahoo.problem_ja}")
    for page in yahoo.pages:
        name = PAGE_NAMES[page.key]
        missing = [c for c in page.checks if c["needed"] and c["result"] == "missing"]
        if page.error_ja and not page.rendered_html:
            problems.append(f"ヤフオク「{name}」: 画面を開けませんでした（{page.error_ja}）")
        elif missing:
            for c in missing:
                problems.append(
                    f"ヤフオク「{name}」: {c['fact']}（{' / '.join(c['values'])}）が見つかりません"
                )
        else:
            works.append(f"ヤフオク「{name}」の画面を読み取れます。")
    if shop_facts is not None and shop_facts.state == "applied":
        works.append(shop_facts.message_ja)
    if shop_facts is not None and shop_facts.state == "refused":
        problems.append(shop_facts.message_ja)
    ok = not problems
    lines = [f"ReCORE Connector 接続診断（{when:%Y-%m-%d %H:%M}）", ""]
    lines.append(
        "■ 結果: " + ("問題は見つかりませんでした。" if ok else "対応が必要な点があります。")
    )
    lines += ["", "■ 使えること"] + [f"・{w}" for w in works or ["（ありません）"]]
    lines += ["", "■ 使えないこと・確認が必要なこと"] + [
        f"・{p}" for p in problems or ["（ありません）"]
    ]
    lines += [
        "",
        "■ サポートへ送るもの",
        f"・このファイル {zip_name} をそのままサポートに送ってください。",
        "・購入者の氏名・住所・電話番号・メールアドレス、パスワードとAPIキーは取り除いてあります"
        "（注文IDとオークションIDは置き換えてあります）。",
        "・この診断は読み取りだけで、出品・保存・送信などの操作は一切していません。",
        "",
    ]
    return "\n".join(lines), ok


def _write_zip(target: Path, files: dict[str, str]) -> None:
    """The zip through a temporary file created exclusively under a random name beside it (never
    a planted symlink, never half a zip under the real name), owner-only, then renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
    ) as tmp:
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for name, text in files.items():
                    zf.writestr(name, text)
            tmp.flush()
            os.fsync(tmp.fileno())
            os.replace(tmp.name, target)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


async def run_diagnosis(
    settings: SettingsStore,
    store: StoreSession,
    http: Any,
    out_dir: Path,
    *,
    now: datetime | None = None,
) -> Diagnosis:
    when = now or datetime.now().astimezone()
    redactor = await make_redactor(settings, store)
    client, missing = await recore_client(settings, http)
    log.info("diagnose: reading ReCORE (GET only)")
    recore = await diagnose_recore(client, missing, redactor)
    for note in recore.notes_en:
        log.info("diagnose: recore: %s", note)
    log.info("diagnose: reading the Yahoo store (GET only)")
    # the diagnosis renders pages and listens to their answers: all of it on the browser loop
    yahoo = await store.on_browser_loop(diagnose_yahoo, await store.reader(), redactor)
    if yahoo.problem_en:
        log.warning("diagnose: yahoo: %s", yahoo.problem_en)
    name = f"recore-connector-diagnosis-{when:%Y%m%d-%H%M%S}.zip"
    text, ok = summary_ja(when, recore, yahoo, store.shop_facts, name)
    missing_facts = [{"page": p, "fact": f} for p, f in yahoo.missing]
    for item in missing_facts:
        log.warning("diagnose: missing on %s: %s", item["page"], item["fact"])
    log.info("diagnose: %s", "everything needed was found" if ok else "something needed is missing")

    files: dict[str, str] = {"summary-ja.txt": text}
    files["recore.json"] = _json(redactor.data(recore.as_dict()))
    pages_index = []
    for page in yahoo.pages:
        folder = f"yahoo/{page.key}"
        files[f"{folder}/raw.html"] = redactor.html(page.raw_html) if page.raw_html else ""
        files[f"{folder}/rendered.html"] = (
            redactor.html(page.rendered_html) if page.rendered_html else ""
        )
        detail = {
            "page": page.key,
            "name": PAGE_NAMES[page.key],
            "url": page.url,
            "raw_status": page.raw_status,
            "rows": page.rows,
            "error": page.error,
            "xhr": page.xhr,
            "next_data_keys": page.next_data,
            "form_controls": page.controls,
            "buttons": page.buttons,
            "links": page.links,
            "checks": page.checks,
        }
        files[f"{folder}/page.json"] = _json(redactor.data(detail))
        pages_index.append({"page": page.key, "url": page.url, "error": page.error})
    shop = store.shop_facts
    facts_state = shop.describe() if shop is not None else {"state": "none"}
    if shop is not None and shop.state != "none" and shop.path.is_file():
        files["facts/shop-facts.toml"] = redactor.text(
            await asyncio.to_thread(shop.path.read_text, "utf-8", "replace")
        )
    files["report.json"] = _json(
        redactor.data(
            {
                "created_at": when.isoformat(),
                "ok": ok,
                "missing": missing_facts,
                "yahoo_problem": yahoo.problem_en,
                "yahoo_pages": pages_index,
                "facts_file": facts_state,
                "recore": {
                    "configured": recore.configured,
                    "reachable": recore.reachable,
                    "endpoints": recore.endpoints,
                },
            }
        )
    )
    target = out_dir / name
    await asyncio.to_thread(_write_zip, target, files)
    log.info("diagnose: bundle written to %s", target)
    return Diagnosis(target, ok, text, missing_facts, recore.as_dict())
