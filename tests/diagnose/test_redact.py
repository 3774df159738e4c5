"""The redactor on its own: what goes, what stays, and ids that keep their shape."""

from __future__ import annotations

import re

from companion.diagnose.redact import MASK, Redactor, key_tree, stable_hash, url_without_tokens

AUCTION = re.compile(r"[a-z]\d{7,}")


def redactor() -> Redactor:
    r = Redactor(
        secrets=["pw-Secret-1", None],
        personal_labels=["住所", "Yahoo! JAPAN ID"],
        id_patterns=[AUCTION],
    )
    r.add_values(["山田 太郎", "buyer_77"])
    r.add_ids(["ORD-000123"])
    return r


def test_contacts_names_and_secrets_go() -> None:
    text = redactor().text(
        "山田太郎様 山田 太郎 taro@example.jp 090-1234-5678 〒150-0001 pw-Secret-1 buyer_77"
    )
    for gone in ("山田", "太郎", "taro@", "090-1234", "150-0001", "pw-Secret-1", "buyer_77"):
        assert gone not in text
    assert text.count(MASK) >= 7


def test_ids_become_stable_hashes_of_their_shape() -> None:
    r = redactor()
    first = r.text("c1133337781 ORD-000123 /jp/auction/c1133337781")
    assert "c1133337781" not in first and "ORD-000123" not in first
    hashed = stable_hash("c1133337781")
    assert AUCTION.fullmatch(hashed) and hashed != "c1133337781"
    assert first.count(hashed) == 2
    assert re.fullmatch(r"[A-Z]{3}-\d{6}", stable_hash("ORD-000123"))
    assert r.text("c1133337781") == Redactor(id_patterns=[AUCTION]).text("c1133337781")


def test_what_stays() -> None:
    r = redactor()
    text = "管理番号 DEMO-0040 2,500円 2026-11-30 12:00 出品中"
    assert r.text(text) == text
    r.add_values(["DEMO-0040"])  # a cell read as a buyer by mistake
    r.keep(["DEMO-0040"])
    assert r.text(text) == text


def test_pages_lose_tokens_scripts_values_and_personal_cells() -> None:
    html = (
        '<form><input type="hidden" name="crumb" value="tok-123">'
        '<input name="q" value="検索語"><input type="checkbox" name="c" value="5"></form>'
        "<table><tr><th>住所</th><td>東京都<b>港区</b></td></tr>"
        "<tr><th>Yahoo! JAPAN ID</th><td>someone_1</td></tr></table>"
        "<script>window.__STATE__={'token':'abc'}</script>"
    )
    out = redactor().html(html)
    for gone in ("tok-123", "crumb", "検索語", "東京都", "港区", "someone_1", "__STATE__"):
        assert gone not in out
    assert 'name="c" value="5"' in out


def test_key_tree_keeps_keys_and_types_only() -> None:
    tree = key_tree({"a": [{"b": 1, "c": "x"}], "d": None, "e": True, "f": 1.5})
    assert tree == {"a": [{"b": "int", "c": "str"}], "d": "null", "e": "bool", "f": "float"}


def test_request_urls_lose_their_tokens() -> None:
    url = url_without_tokens("https://x.example/api/items?page=2&.crumb=abc123&sessionId=s9")
    assert "abc123" not in url and "s9" not in url and "page=2" in url
