"""A shop's facts file (data dir) corrects a page without a release: the run the sandbox's
layout change broke goes through with it; a malformed file is refused with its line, the built-in
facts stay in use and staff are told."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.keys import STORE
from tests.conftest import both_worlds
from tests.direct.conftest import WiredFactory

pytestmark = pytest.mark.browser

# what support would send after reading the diagnosis of the changed pages
CORRECTION = """\
[form]
confirm_buttons = ["確認する", "入力内容を確認する"]

[form.fields]
"タイトル" = "productTitleInputText"

[lists]
row_checkbox = "itemSelectCheckbox"

[edit]
title_field = "productTitleInputText"
save_button = "フォルダへ保存"
"""


@both_worlds
async def test_a_corrected_facts_file_fixes_the_changed_layout(
    make_wired: WiredFactory, data_dir: Path
) -> None:
    (data_dir / "facts.toml").write_text(CORRECTION, encoding="utf-8")
    wired = await make_wired(listings=2)
    assert wired.client.app[STORE].shop_facts.state == "applied"
    before = (await wired.sb.yahoo_state())["counts"]["items"]
    await wired.sb.yahoo_faults(layout_changed=True)
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 202
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    assert len(job["items"]) == 2
    state = await wired.sb.yahoo_state()
    assert state["counts"]["items"] == before + 2
    assert state["duplicates"] == {}
    facts = (await wired.get("/api/v1/status"))["facts"]
    assert facts["state"] == "applied"


async def test_a_malformed_facts_file_is_refused_with_its_line(
    make_wired: WiredFactory, data_dir: Path
) -> None:
    (data_dir / "facts.toml").write_text(
        '[form]\nconfirm_buttons = ["確認する"]\n\n[form.fields]\n"タイトル" = 3\n',
        encoding="utf-8",
    )
    wired = await make_wired(listings=1)
    shop = wired.client.app[STORE].shop_facts
    assert (shop.state, shop.line) == ("refused", 5)
    assert "a text is expected" in shop.reason
    # the built-in facts are in use: the unchanged store lists as before
    assert wired.client.app[STORE].facts.form.fields["タイトル"] == "titleInputText"
    status = await wired.get("/api/v1/status")
    assert status["facts"]["state"] == "refused" and status["facts"]["line"] == 5
    assert any("5行目" in e["message"] for e in status["last_errors"])
    _, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
