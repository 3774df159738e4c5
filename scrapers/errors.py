"""What can go wrong on the store's pages: one family of exceptions, each with a Japanese message
for staff (`ja`) and an English one for the logs (`en`).

- `WallError`: a person must act (SMS認証, a captcha, wrong or missing credentials, a login page on
  a host we do not type secrets into, a store that stays busy). `code` names the wall.
- `LayoutChanged`: a page no longer has what the run needs (named in `missing`).
- `SessionExpired`: the store answered with its login page (log in again, then retry).
- `StoreUnavailable`: 5xx, a busy page or a network error after a few retries.
- `ItemError`: one item could not be listed or changed; the others go on.
"""

from __future__ import annotations


class ScraperError(Exception):
    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja = ja
        self.en = en


class WallError(ScraperError):
    """Login (or the store) cannot go on without a person. `code` names the wall."""

    def __init__(self, code: str, ja: str, en: str) -> None:
        super().__init__(ja, en)
        self.code = code


class LayoutChanged(ScraperError):
    """A page no longer looks as the facts say: stop before guessing."""

    def __init__(self, page: str, missing: list[str] | str) -> None:
        names = [missing] if isinstance(missing, str) else list(missing)
        super().__init__(
            f"ヤフオクの「{page}」の画面が変わったため、続けられません"
            f"（見つからない項目: {'、'.join(names)}）。コネクタの更新が必要です。",
            f"the {page} page changed; missing: {', '.join(names)}",
        )
        self.page = page
        self.missing = names


class SessionExpired(ScraperError):
    def __init__(self) -> None:
        super().__init__(
            "ヤフオクのログインが切れています。", "the Yahoo session expired (login page returned)"
        )


class StoreUnavailable(ScraperError):
    def __init__(self, what: str, detail: str) -> None:
        super().__init__(
            f"ヤフオクが応答しません（{what}）。しばらくしてから自動で再試行します。",
            f"Yahoo unavailable while reading {what}: {detail}",
        )


class ItemError(ScraperError):
    """One item could not be listed; `ja` quotes the page's own error text.

    `maybe_listed`: the failure came after the listing was sent, so the item may be on the store
    anyway (the caller reads the item list before anything else is tried). `retry`: the store
    said "try again" (busy, an expired draft, a timeout).
    """

    def __init__(
        self, ja: str, en: str, *, maybe_listed: bool = False, retry: bool = False
    ) -> None:
        super().__init__(ja, en)
        self.maybe_listed = maybe_listed
        self.retry = retry
