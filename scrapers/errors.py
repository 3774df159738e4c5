"""What can go wrong on the store pages, as exceptions the job turns into staff messages.

Each carries a Japanese message for staff (`ja`) and an English one for the logs (`en`).
"""

from __future__ import annotations


class ScraperError(Exception):
    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja = ja
        self.en = en


class WallError(ScraperError):
    """Login cannot go on without a person: SMS認証, a captcha, wrong credentials, no login.

    The job pauses; staff fix the cause and press 直接出品を実行 again. `code` names the wall.
    """

    def __init__(self, code: str, ja: str, en: str) -> None:
        super().__init__(ja, en)
        self.code = code


class LayoutChanged(ScraperError):
    """A selector the run needs is not on the page: stop before listing anything."""

    def __init__(self, page: str, missing: list[str]) -> None:
        names = "、".join(missing)
        super().__init__(
            f"ヤフオクの{page}の画面が変わったため、直接出品を中止しました（見つからない項目: {names}）。"
            "何も出品していません。コネクタの更新が必要です。",
            f"the {page} page changed; missing: {', '.join(missing)}; nothing was listed",
        )
        self.page = page
        self.missing = missing


class ItemError(ScraperError):
    """One item could not be listed; the others go on. `ja` quotes the page's own error text.

    `maybe_listed` is True when the failure came after 出品する was pressed, so the item may be on
    the store anyway (the caller checks the item list before anything else is tried).
    """

    def __init__(
        self, ja: str, en: str, *, maybe_listed: bool = False, retry: bool = False
    ) -> None:
        super().__init__(ja, en)
        self.maybe_listed = maybe_listed
        self.retry = retry


class SessionLost(ScraperError):
    """The store sent us to the login page in the middle of a run (the session expired)."""

    def __init__(self) -> None:
        super().__init__(
            "ヤフオクのログインが切れました", "the Yahoo session expired during the run"
        )
