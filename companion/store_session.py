"""The one store session of the companion (`app[STORE]`): the Yahoo side as the settings name it.

Direct listing, sync, ReCORE's task handlers and `recore-connector login` all use this one object,
so there is one Chromium on the one browser profile, one set of cookies for plain-HTTP reads, one
login at a time, and one place that knows when automatic logins are held back.

- `browser()` / `reader()`: the scrapers' `BrowserSession` and `StoreReader`, made again when the
  Yahoo address setting changes; another account in the settings clears the old login.
- They live on the store's own thread and loop (`companion.browser_loop`): what `browser()`,
  `reader()` and `page_object()` hand out are stand-ins whose verbs run there, so the companion's
  loop (the HTTP API) never waits behind Playwright's traffic or the parsing of the store's
  pages. The settings and the database stay on the companion's loop: the stored credentials are
  read there when a login needs them.
- Held logins: after a login wall (SMS認証, a captcha, wrong credentials) automatic runs stop
  logging in, since every try may send an SMS and failed logins bring captchas. `hold()` records
  the wall (kept across restarts); a staff action — 同期開始, 直接出品を実行, `recore-connector
  login` — clears it with `staff_acted()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from companion.browser_loop import BrowserLoop
from companion.config import Config
from companion.settings import YAHOO_ACCOUNT_KEYS, SettingsStore
from companion.shop_facts import ShopFacts, load_shop_facts
from scrapers.errors import WallError
from scrapers.facts import Facts, StoreUrls
from scrapers.reader import StoreReader
from scrapers.session import BrowserSession, Credentials

log = logging.getLogger(__name__)
T = TypeVar("T")

BLOCKED_KEY = "yahoo_login_blocked"  # internal setting: the wall that holds automatic logins
# Chromium closes this many seconds after the last job used it.
IDLE_ENV = "RECORE_CONNECTOR_BROWSER_IDLE_SECONDS"
DEFAULT_IDLE = 60.0
# Retry backoff base (seconds) for busy pages; tests set it small.
RETRY_DELAY_ENV = "RECORE_CONNECTOR_DIRECT_RETRY_SECONDS"


def env_float(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


@dataclass
class StoreOptions:
    """Tuning (tests and the benchmarks set it as `app[STORE_OPTIONS]`)."""

    concurrency: int = 6  # plain-HTTP requests to Yahoo at a time
    retry_delay: float = 0.5  # between retries of a failed GET
    headless: bool = True
    idle_timeout: float = field(default_factory=lambda: env_float(IDLE_ENV, DEFAULT_IDLE))
    busy_delay: float = field(default_factory=lambda: env_float(RETRY_DELAY_ENV, 1.0))


STORE_OPTIONS = web.AppKey("store_options", StoreOptions)


async def stored_credentials(settings: SettingsStore) -> Credentials:
    """The Yahoo store login as the options page saved it (secrets decrypted only here)."""
    return Credentials(
        yahoo_id=await settings.get("yahoo_id"),
        password=await settings.secret("yahoo_password"),
        business_id=await settings.get("business_id"),
        business_password=await settings.secret("business_password"),
    )


class StoreSession:
    def __init__(
        self,
        config: Config,
        settings: SettingsStore,
        options: StoreOptions | None = None,
        facts: Facts | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.options = options or StoreOptions()
        # the shop's facts file (data dir) over the built-in facts, checked once here
        self.shop_facts: ShopFacts | None = None
        if facts is None:
            self.shop_facts = load_shop_facts(config.data_dir)
            facts = self.shop_facts.facts
        self.facts = facts
        self.blocked: dict[str, str] | None = None
        # the thread and loop the store's browser, reader and pages live on
        self.browser_loop = BrowserLoop()
        # made and closed only on the browser loop
        self._browser: BrowserSession | None = None
        self._reader: StoreReader | None = None
        self._base: str | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.blocked = await self.settings.get_internal(BLOCKED_KEY)
        self.settings.on_change(self.settings_changed)

    async def credentials(self) -> Credentials:
        return await stored_credentials(self.settings)

    async def browser(self) -> BrowserSession:
        """The store's browser session (a stand-in: its verbs run on the browser loop), made again
        when the Yahoo address setting changed."""
        base = await self.settings.get("yahoo_base_url")
        # `self.credentials` crosses as a callback: a login reads the settings on this loop
        return await self.browser_loop.call(self._session_for, base, self.credentials)

    async def _session_for(self, base: str | None, credentials: Any) -> BrowserSession:
        # on the browser loop
        if self._browser is not None and self._base != base:
            await self._browser.close()
            self._browser = self._reader = None
        if self._browser is None:
            self._browser = BrowserSession(
                self.config.browser_profile_dir,
                StoreUrls(self.facts, base),
                credentials,
                headless=self.options.headless,
                idle_timeout=self.options.idle_timeout,
                busy_delay=self.options.busy_delay,
                login_gate=self._gate,
            )
            self._base = base
        return self._browser

    async def reader(self) -> StoreReader:
        """Plain-HTTP reads with the session's cookies (kept between runs); a stand-in, like
        `browser()`: the requests and the parsing of what they read run on the browser loop."""
        return await self.browser_loop.call(self._reader_for, await self.browser())

    async def _reader_for(self, browser: BrowserSession) -> StoreReader:
        # on the browser loop, where its HTTP client session must be made
        if self._reader is None or self._reader.browser is not browser:
            if self._http is None or self._http.closed:
                self._http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
            self._reader = StoreReader(
                browser,
                self._http,
                concurrency=self.options.concurrency,
                retry_delay=self.options.retry_delay,
            )
        return self._reader

    def page_object(self, cls: Callable[..., T], /, *args: Any) -> T:
        """A page object (`ItemForm(page, session, reader)`, `ItemActions`, `OrderActions`) over
        what `browser()` and `reader()` handed out: its verbs run on the browser loop whole."""
        return self.browser_loop.make(cls, *args)

    async def on_browser_loop(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        """`await fn(*args)` on the browser loop: for work that uses Playwright's objects beyond
        the page objects' verbs (the diagnosis renders pages and listens to their responses)."""
        return await self.browser_loop.call(fn, *args)

    # --- held logins ----------------------------------------------------------------------------
    def _gate(self) -> None:
        if self.blocked is not None:
            raise WallError(
                "LOGIN_BLOCKED",
                "前回のヤフオクへのログインで人の操作が必要になったため、自動ではログインしません"
                f"（{self.blocked.get('message', '')}）。原因を直して「同期開始」を押してください。",
                f"automatic login held back after {self.blocked.get('code')}; staff must act",
            )

    async def hold(self, code: str, message: str) -> None:
        """A login wall: automatic runs do not log in again until staff act."""
        self.blocked = {"code": code, "message": message}
        await self.settings.set_internal(BLOCKED_KEY, self.blocked)

    async def staff_acted(self) -> None:
        """Staff pressed a button (or logged in by hand): logins may be tried again."""
        if self.blocked is not None:
            self.blocked = None
            await self.settings.set_internal(BLOCKED_KEY, None)

    def settings_changed(self, keys: set[str]) -> None:
        if keys & YAHOO_ACCOUNT_KEYS:
            # another store or login: never reuse the old cookies, store id or held wall
            if self._browser is not None:
                self._browser.account_changed()
            self._reader = None
            self.blocked = None
            with contextlib.suppress(RuntimeError):  # no loop: nothing stored to clear
                asyncio.get_running_loop().create_task(
                    self.settings.set_internal(BLOCKED_KEY, None)
                )

    async def close(self) -> None:
        """Chromium and the HTTP client closed on the browser loop, then its thread ended."""
        await self.browser_loop.close(self._close_on_browser_loop)

    async def _close_on_browser_loop(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        self._browser = self._reader = None
        if self._http is not None:
            await self._http.close()
            self._http = None


# --- `recore-connector login`: staff log in once, SMS and all -----------------------------------
async def login_once(
    config: Config, *, visible: bool | None = None, wait_seconds: float = 600
) -> int:
    """Open the store with the connector's own browser profile and log in.

    With a display a window opens: what the settings hold is filled in, staff do the rest (SMS
    code, captcha) and the session is kept in the profile for the unattended runs. Without one the
    stored login is tried headless and the outcome printed. Returns a process exit code.
    """
    from playwright.async_api import Error as PlaywrightError

    from companion.db import Database
    from companion.secretbox import SecretBox
    from scrapers.session import has_display

    show = has_display() if visible is None else visible
    db = Database(config.db_url)
    try:
        await db.migrate()
        settings = SettingsStore(
            db, SecretBox.load(config.data_dir), yahoo_base_url=config.yahoo_base_url
        )
        store = StoreSession(config, settings, StoreOptions(headless=not show, idle_timeout=0))
        await store.start()
        await store.staff_acted()
        session = await store.browser()
        try:
            if show:
                print("ブラウザーでヤフオクのログイン画面を開きます。ログインを完了してください。")
                print("Opening the Yahoo login in a browser window; please complete it.")
                ok = await session.interactive_login(wait_seconds=wait_seconds)
                if not ok:
                    print("ログインが完了しませんでした。 / The login did not complete.")
                return 0 if ok else 1
            try:
                await session.logged_in_cookies()
            except WallError as wall:
                print(wall.ja)
                print(wall.en)
                print(
                    "画面のあるコンピューターで実行すると、ウィンドウで手動ログインできます。"
                    " / Run this where a display is available to log in by hand."
                )
                return 1
            print(
                "ヤフオクにログインしました（セッションを保存しました）。 / Logged in; session saved."
            )
            return 0
        except PlaywrightError as exc:
            first = (str(exc).splitlines() or ["?"])[0]
            print(
                "ブラウザーを起動できませんでした。直接出品の実行中なら、終わってからもう一度お試しください。"
            )
            print(
                f"Could not start the browser ({first}); if a direct listing is running, retry later."
            )
            return 1
        finally:
            await store.close()
    finally:
        await db.close()
