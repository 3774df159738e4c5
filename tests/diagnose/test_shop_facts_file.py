"""The shop's facts file is checked before use: each kind of mistake is refused with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.shop_facts import load_shop_facts
from scrapers.facts import FACTS


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('[form]\nconfirm_buttons = ["確認する"\n', 2, "not TOML"),
        ("[form]\nmax_images = = 3\n[lists]\n", 2, "not TOML"),
        ("[form]\nmax_images = 10\n\n[lists]\nrow_checkbox = 1\n", 5, "a text is expected"),
        ('[login]\nhandle = ["#a"]\nhandel = ["#b"]\n', 3, "unknown key(s) handel"),
        ('[texts]\nyen_pattern = "(["\n', 2, "does not compile"),
        ('[form.choices."送料負担"]\nnames = "x"\n', 2, "a list is expected"),
    ],
)
def test_a_bad_file_is_refused_with_its_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    (tmp_path / "facts.toml").write_text(text, encoding="utf-8")
    shop = load_shop_facts(tmp_path)
    assert shop.state == "refused"
    assert reason in shop.reason
    assert shop.line == line
    assert shop.facts is FACTS
    assert f"{line}行目" in shop.message_ja


def test_a_good_file_is_laid_over_the_built_in_facts(tmp_path: Path) -> None:
    (tmp_path / "facts.toml").write_text('[form.fields]\n"タイトル" = "t2"\n', encoding="utf-8")
    shop = load_shop_facts(tmp_path)
    assert shop.state == "applied"
    assert shop.facts.form.fields["タイトル"] == "t2"
    assert shop.facts.form.fields["カテゴリ"] == FACTS.form.fields["カテゴリ"]


def test_no_file_means_the_built_in_facts(tmp_path: Path) -> None:
    shop = load_shop_facts(tmp_path)
    assert (shop.state, shop.facts) == ("none", FACTS)
