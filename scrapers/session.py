"""The browser session with the Yahoo store: one persistent Chromium profile, logged in, re-used.

- The profile lives in the data dir, so the store's login cookies survive restarts: staff log in
  once (`recore-connector login`, SMS and all) and the connector re-uses that session.
- When the store asks for a login, the stored credentials are entered step by step, each step
  chosen by what the page is (`scrapers.parse.classify`): the bridge's chooser, the Yahoo ID, the
  password (which may appear on the same page, without a navigation), the business ID. After each
  step the session waits for the page to change — a new document, another page kind, or a new
  error text — never for a navigation alone.
- Credentials are typed only on Yahoo's own login hosts (https) or the configured sandbox origin;
  a login page anywhere else is a wall, and nothing is typed into it.
- A wall a program must not pass (SMS認証 / one-time code, captcha, wrong credentials) raises
  `WallError` with a Japanese message that says what staff should do.
- Chromium starts on first use and closes after `idle_timeout` seconds without users.
- The profile remembers whose login it holds (`ACCOUNT_FILE`, a hash of the store address, Yahoo ID
  and business ID). When the settings name another account, the old cookies are cleared before
  anything is opened: the connector never works in the previous store's session.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Locator, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from scrapers.browser import STORE_PAGE_ARGS, chromium_sandbox, store_browser
from scrapers.errors import WallError
from scrapers.facts import StoreUrls
from scrapers.parse import LOGIN_KINDS, PageKind, classify, error_texts

log = logging.getLogger(__name__)

LOGIN_COMMAND = "recore-connector login"
DEFAULT_TIMEOUT_MS = 30_000
MAX_LOGIN_STEPS = 8
BUSY_RETRIES = 3
ACCOUNT_FILE = "recore-connector-account"  # in the profile dir
_AGAIN = "止まった操作（「直接出品を実行」または「同期開始」）をもう一度押してください。"


@dataclass(frozen=True)
class Credentials:
    yahoo_id: str | None = None
    password: str | None = None
    business_id: str | None = None
    business_password: str | None = None


CredentialsProvider = Callable[[], Awaitable[Credentials]]


def has_display() -> bool:
    """A visible window can be opened (always on Windows/macOS; on Linux only with X/Wayland)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


# --- walls ------------------------------------------------------------------------------------------
def sms_wall() -> WallError:
    return WallError(
        "SMS_AUTH",
        "ヤフオクのログインでSMS認証（確認コード）を求められたため、一時停止しました。"
        "Yahoo! JAPAN IDの設定でSMS認証を「利用しない」にするか、"
        f"コンピューターで `{LOGIN_COMMAND}` を実行して一度手動でログインしてから、"
        f"{_AGAIN}続きから再開します。",
        "Yahoo asked for a one-time code (SMS); set SMS認証 to 利用しない or run "
        f"`{LOGIN_COMMAND}` once, then run the job again",
    )


def captcha_wall() -> WallError:
    return WallError(
        "CAPTCHA",
        "ヤフオクのログインで画像認証（キャプチャ）を求められたため、一時停止しました。"
        f"コンピューターで `{LOGIN_COMMAND}` を実行して一度手動でログインしてから、"
        f"{_AGAIN}続きから再開します。",
        f"Yahoo asked for a captcha; run `{LOGIN_COMMAND}` once, then run the job again",
    )


def credentials_wall(page_text: str) -> WallError:
    quoted = f"（ヤフオクの表示: {page_text}）" if page_text else ""
    return WallError(
        "BAD_CREDENTIALS",
        f"ヤフオクにログインできませんでした{quoted}。オプション画面のY!ID・パスワード・"
        f"ビジネスID・ビジネスパスワードを確認してから、{_AGAIN}",
        "Yahoo refused the stored login; check the Yahoo ID, passwords and business ID",
    )


def no_credentials_wall(missing: str) -> WallError:
    return WallError(
        "NO_CREDENTIALS",
        f"ヤフオクのログインが必要ですが、{missing}が設定されていません。オプション画面で設定するか、"
        f"コンピューターで `{LOGIN_COMMAND}` を実行して一度手動でログインしてから、{_AGAIN}",
        f"Yahoo needs a login but {missing} is not set",
    )


def login_loop_wall() -> WallError:
    return WallError(
        "LOGIN_FAILED",
        "ヤフオクへのログインが完了しませんでした（ログイン後もログイン画面に戻ります）。"
        f"コンピューターで `{LOGIN_COMMAND}` を実行して一度手動でログインしてから、{_AGAIN}",
        "the Yahoo login did not complete (the login page came back)",
    )


def login_changed_wall() -> WallError:
    return WallError(
        "LOGIN_CHANGED",
        "ヤフオクのログイン画面が想定と違うため、自動でログインできませんでした。"
        f"コンピューターで `{LOGIN_COMMAND}` を実行して一度手動でログインしてから、{_AGAIN}"
        "続く場合はコネクタの更新が必要です。",
        "the Yahoo login page is not one the connector knows (its layout changed)",
    )


def login_host_wall(url: str) -> WallError:
    host = urlsplit(url).netloc or url
    return WallError(
        "LOGIN_HOST",
        f"ヤフオクではないサイト（{host}）のログイン画面に移動したため、ID・パスワードを入力せずに"
        "止めました。設定のヤフオクのアドレスとネットワークを確認してください。",
        f"a login page on {host}, not a Yahoo login host: nothing was typed",
    )


def busy_wall() -> WallError:
    return WallError(
        "YAHOO_BUSY",
        f"ヤフオクが混雑しているため、一時停止しました。しばらくしてから、{_AGAIN}"
        "続きから再開します。",
        "Yahoo answered with a busy page repeatedly",
    )


def _same_page(current: str, wanted: str) -> bool:
    a, b = urlsplit(current), urlsplit(wanted)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


class BrowserSession:
    """One Chromium with a persistent profile; pages for the workers; automatic login."""

    def __init__(
        self,
        profile_dir: Path,
        urls: StoreUrls,
        credentials: CredentialsProvider,
        *,
        headless: bool = True,
        idle_timeout: float = 60.0,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        busy_delay: float = 1.0,
        login_gate: Callable[[], None] | None = None,
    ) -> None:
        self.profile_dir = Path(profile_dir)
        self.urls = urls
        self.facts = urls.facts
        self._credentials = credentials
        self.headless = headless
        self.idle_timeout = idle_timeout
        self.timeout_ms = timeout_ms
        self.busy_delay = busy_delay
        # called before credentials are typed: raises WallError when automatic logins are held
        self.login_gate = login_gate
        self._pw: Playwright | None = None
        self._context: BrowserContext | None = None
        self._start_lock = asyncio.Lock()
        self._login_lock = asyncio.Lock()
        self._users = 0
        self._idle_task: asyncio.Task[None] | None = None
        self.logins = 0  # how many automatic logins ran (for tests and logs)
        self._account_checked = False

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._context is not None

    def account_changed(self) -> None:
        """The settings now name another account: checked (the old login cleared) on next use."""
        self._account_checked = False

    async def _start(self) -> BrowserContext:
        async with self._start_lock:
            if self._context is None:
                self._context = await self._launch()
            if not self._account_checked:
                await self._forget_other_account(self._context)
                self._account_checked = True
            return self._context

    async def _launch(self) -> BrowserContext:
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(self.profile_dir, 0o700)  # holds the store's login cookies
        pw = await async_playwright().start()
        try:
            choice = store_browser(headless=self.headless)
            context = await pw.chromium.launch_persistent_context(
                str(self.profile_dir),
                executable_path=choice.executable,
                channel=choice.channel,
                headless=self.headless,
                # the store's pages (HTML descriptions included) keep Chromium's sandbox wherever
                # it can run; Playwright adds --no-sandbox itself unless told so
                chromium_sandbox=chromium_sandbox(choice.executable),
                args=list(STORE_PAGE_ARGS),
                locale="ja-JP",
                timezone_id="Asia/Tokyo",
                accept_downloads=False,
            )
        except BaseException:
            await pw.stop()
            raise
        context.set_default_timeout(self.timeout_ms)
        context.set_default_navigation_timeout(self.timeout_ms)
        self._pw = pw
        log.info("Chromium started (profile %s, headless=%s)", self.profile_dir, self.headless)
        return context

    async def _forget_other_account(self, context: BrowserContext) -> None:
        """Clear the cookies when the profile's login belongs to another account than the
        settings name (another Yahoo ID or business ID, or another store address)."""
        creds = await self._credentials()
        marker = self.profile_dir / ACCOUNT_FILE
        if not (creds.yahoo_id or creds.business_id):
            return  # nothing known about whose login staff want: keep what is there
        key = "\n".join((self.urls.serinavi_origin, creds.yahoo_id or "", creds.business_id or ""))
        identity = hashlib.sha256(key.encode()).hexdigest()
        try:
            before = marker.read_text().strip()
        except OSError:
            before = None
        if before == identity:
            return
        if before is not None:
            await context.clear_cookies()
            log.info("the Yahoo account in the settings changed: the old login was cleared")
        marker.write_text(identity)

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[BrowserContext]:
        """Hold the browser open while in use; it closes `idle_timeout` s after the last user."""
        self._users += 1
        if self._idle_task is not None:
            self._idle_task.cancel()
            self._idle_task = None
        try:
            yield await self._start()
        finally:
            self._users -= 1
            if self._users == 0 and self._context is not None:
                self._idle_task = asyncio.create_task(self._close_when_idle())

    async def warm_up(self) -> None:
        """Start Chromium ahead of its first user (a run that is still being prepared): it closes
        `idle_timeout` s later when nobody comes."""
        async with self.use():
            pass

    async def _close_when_idle(self) -> None:
        await asyncio.sleep(self.idle_timeout)
        if self._users == 0:
            await self.close()

    async def close(self) -> None:
        if self._idle_task is not None and self._idle_task is not asyncio.current_task():
            self._idle_task.cancel()
        self._idle_task = None
        async with self._start_lock:
            context, pw = self._context, self._pw
            self._context = self._pw = None
            self._account_checked = False
            if context is not None:
                with contextlib.suppress(PlaywrightError):
                    await context.close()
                log.info("Chromium closed")
            if pw is not None:
                with contextlib.suppress(PlaywrightError):
                    await pw.stop()

    async def new_page(self) -> Page:
        context = await self._start()
        return await context.new_page()

    async def cookies(self) -> list[dict[str, Any]]:
        context = await self._start()
        return [dict(c) for c in await context.cookies()]

    async def logged_in_cookies(self) -> list[dict[str, Any]]:
        """The session's cookies after opening 競りナビ in the browser (logging in on the way if
        the store asks): what plain HTTP reads send."""
        async with self.use():
            page = await self.new_page()
            try:
                await self.open(page, self.urls.serinavi_top())
            finally:
                await page.close()
            return await self.cookies()

    # --- pages ----------------------------------------------------------------------------------
    def kind(self, html: str, url: str) -> PageKind:
        return classify(html, url, self.facts)

    async def open(
        self, page: Page, url: str, *, need_html: bool = True, until_commit: bool = False
    ) -> str | None:
        """Go to `url`, logging in on the way when the store asks; returns the page's HTML.

        With `need_html=False` the common case costs one navigation and nothing more: when the
        store answers 2xx at the very URL asked for, no login page came in between (a login
        always redirects), so the page's HTML is not read and None is returned. With
        `until_commit` as well, that return comes as soon as the answer is committed, while
        the document is still being parsed: what the caller runs next waits for it in the page.
        """
        quick = not need_html and until_commit
        resp = await page.goto(url, wait_until="commit" if quick else "domcontentloaded")
        if not need_html and resp is not None and resp.ok and _same_page(page.url, url):
            return None
        if quick:
            await page.wait_for_load_state("domcontentloaded")
        html = await page.content()
        kind = self.kind(html, page.url)
        busy = 0
        while kind == PageKind.BUSY and busy < BUSY_RETRIES:
            busy += 1
            await asyncio.sleep(self.busy_delay * busy)
            await page.goto(url, wait_until="domcontentloaded")
            html = await page.content()
            kind = self.kind(html, page.url)
        if kind == PageKind.BUSY:
            raise busy_wall()
        if kind == PageKind.LOGGED_IN:
            return html
        await self.login(page, url, html)
        if not _same_page(page.url, url):
            # the login usually ends where it was asked to return (`.done`); else go there
            await page.goto(url, wait_until="domcontentloaded")
        html = await page.content()
        if self.kind(html, page.url) != PageKind.LOGGED_IN:
            raise login_loop_wall()
        return html

    # --- login ----------------------------------------------------------------------------------
    async def login(self, page: Page, url: str | None = None, html: str | None = None) -> None:
        """Walk the login steps on `page` (on a login page, or sent to one from `url`); `html`
        is what the page shows, when the caller has just read it."""
        seen = self.logins
        async with self._login_lock:
            if self.logins != seen and url is not None:
                # another page logged in while this one waited: its session is ours too
                await page.goto(url, wait_until="domcontentloaded")
                if self.kind(await page.content(), page.url) == PageKind.LOGGED_IN:
                    return
                html = None
            if html is None:
                html = await page.content()
            if self.kind(html, page.url) == PageKind.LOGGED_IN:
                await page.goto(self.urls.store_top(), wait_until="domcontentloaded")
                html = await page.content()
            creds: Credentials | None = None
            submitted: set[PageKind] = set()
            for _step in range(MAX_LOGIN_STEPS):
                kind = self.kind(html, page.url)
                if kind == PageKind.LOGGED_IN:
                    if submitted:
                        self.logins += 1
                        log.info("logged in to the Yahoo store")
                    return
                if kind == PageKind.ONE_TIME_CODE:
                    raise sms_wall()
                if kind == PageKind.CAPTCHA:
                    raise captcha_wall()
                if kind == PageKind.BUSY:
                    raise busy_wall()
                if kind == PageKind.LOGIN_CHANGED:
                    raise login_changed_wall()
                if kind in submitted:
                    if kind == PageKind.CHOOSER:
                        raise login_loop_wall()
                    # the same step came back: the page says why (wrong password …)
                    raise credentials_wall(" ".join(error_texts(html, self.facts.login.error)))
                if not self.urls.may_log_in_at(page.url):
                    raise login_host_wall(page.url)
                if creds is None and kind != PageKind.CHOOSER:
                    if self.login_gate is not None:
                        self.login_gate()
                    creds = await self._credentials()
                html = await self._login_step(page, kind, creds or Credentials(), html)
                submitted.add(kind)
            raise login_loop_wall()

    async def _field(self, page: Page, candidates: tuple[str, ...]) -> Locator | None:
        """The first visible field among the facts' candidates (CSS or `label:テキスト`)."""
        for candidate in candidates:
            if candidate.startswith("label:"):
                found = page.get_by_label(candidate.removeprefix("label:"), exact=True)
            else:
                found = page.locator(candidate)
            visible = found.filter(visible=True)
            if await visible.count():
                return visible.first
        return None

    async def _fill(self, page: Page, candidates: tuple[str, ...], value: str) -> None:
        field = await self._field(page, candidates)
        if field is None:
            raise login_changed_wall()
        await field.fill(value)

    async def _login_step(
        self, page: Page, kind: PageKind, creds: Credentials, html: str | None = None
    ) -> str:
        """One step of the login on the page showing `html` (read again when not given);
        returns the page once it has changed."""
        login = self.facts.login

        async def act() -> None:
            if kind == PageKind.CHOOSER:
                await page.get_by_role("link", name=login.chooser_link, exact=True).first.click()
            elif kind == PageKind.LOGIN_HANDLE:
                if not creds.yahoo_id:
                    raise no_credentials_wall("Y!ID")
                await self._fill(page, login.handle, creds.yahoo_id)
                await self._press(page, login.next_button)
            elif kind == PageKind.LOGIN_PASSWORD:
                if not creds.password:
                    raise no_credentials_wall("Y!パスワード")
                await self._fill(page, login.password, creds.password)
                await self._press(page, login.login_button)
            elif kind == PageKind.BUSINESS:
                if not creds.business_id or not creds.business_password:
                    raise no_credentials_wall("ビジネスIDまたはビジネスパスワード")
                await self._fill(page, login.business_id, creds.business_id)
                await self._fill(page, login.business_password, creds.business_password)
                await self._press(page, login.business_button)

        return await self._after(page, kind, act, html)

    @staticmethod
    async def _press(page: Page, text: str) -> None:
        button = page.get_by_role("button", name=text, exact=True).filter(visible=True)
        if not await button.count():
            raise login_changed_wall()
        await button.first.click()

    async def _after(
        self,
        page: Page,
        before: PageKind,
        act: Callable[[], Awaitable[None]],
        html: str | None = None,
    ) -> str:
        """Do `act`, then wait until the page changed: a new document, another page kind, or a
        new error text on the same page (the ID step may answer in place)."""
        marker = secrets.token_hex(8)
        if html is None:
            html = await page.content()
        errors_before = error_texts(html, self.facts.login.error)
        loop = asyncio.get_running_loop()
        loaded: asyncio.Future[None] = loop.create_future()

        def on_load(_page: Any) -> None:
            if not loaded.done():
                loaded.set_result(None)

        # a new document is heard, not polled for: registered before the press
        page.on("domcontentloaded", on_load)
        try:
            await page.evaluate("(m) => { window.__recoreStep = m; }", marker)
            await act()
            deadline = loop.time() + self.timeout_ms / 1000
            while True:
                if not loaded.done():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(loaded), 0.05)
                try:
                    if loaded.done():
                        return await page.content()
                    same = await page.evaluate("(m) => window.__recoreStep === m", marker)
                    if not same:
                        await page.wait_for_load_state("domcontentloaded")
                    html = await page.content()
                except PlaywrightError:
                    if loop.time() > deadline:
                        raise
                    if loaded.done():
                        await asyncio.sleep(0.05)  # (else the wait above paces the loop)
                    continue  # between two documents
                if not same:
                    return html
                if self.kind(html, page.url) != before:
                    return html
                if error_texts(html, self.facts.login.error) != errors_before:
                    return html
                if loop.time() > deadline:
                    return html  # nothing changed: the caller sees the same step come back
        finally:
            page.remove_listener("domcontentloaded", on_load)

    # --- staff's one-time manual login ------------------------------------------------------------
    async def interactive_login(
        self, *, wait_seconds: float = 600.0, on_status: Callable[[str], None] = print
    ) -> bool:
        """Open the store in a window; fill what we know, let staff do the rest (SMS, captcha).

        Returns True once a store page is open (the session is then kept in the profile).
        """
        async with self.use():
            page = await self.new_page()
            await page.goto(self.urls.store_top(), wait_until="domcontentloaded")
            creds = await self._credentials()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_seconds
            filled: set[PageKind] = set()
            while loop.time() < deadline:
                if page.is_closed():
                    return False
                try:
                    html = await page.content()
                except PlaywrightError:
                    await asyncio.sleep(0.5)  # the page is navigating
                    continue
                kind = self.kind(html, page.url)
                if kind == PageKind.LOGGED_IN:
                    on_status("ログインしました。このウィンドウは閉じて構いません。 / Logged in.")
                    return True
                if kind not in filled and kind in LOGIN_KINDS:
                    filled.add(kind)
                    await self._prefill(page, kind, creds, on_status)
                await asyncio.sleep(0.5)
            return False

    async def _prefill(
        self, page: Page, kind: PageKind, creds: Credentials, on_status: Callable[[str], None]
    ) -> None:
        """Steps the settings can answer are answered (once: a step that comes back is left to
        the person); SMS and captcha are for the person. Nothing is typed off Yahoo's hosts."""
        if not self.urls.may_log_in_at(page.url):
            on_status(login_host_wall(page.url).ja)
            return
        with contextlib.suppress(PlaywrightError, WallError):
            answerable = {
                PageKind.CHOOSER: True,
                PageKind.LOGIN_HANDLE: bool(creds.yahoo_id),
                PageKind.LOGIN_PASSWORD: bool(creds.password),
                PageKind.BUSINESS: bool(creds.business_id and creds.business_password),
            }
            if answerable.get(kind):
                await self._login_step(page, kind, creds)
                return
            if kind == PageKind.CAPTCHA and creds.password:
                await self._fill(page, self.facts.login.password, creds.password)
        hints = {
            PageKind.LOGIN_HANDLE: "Y!IDを入力して「次へ」を押してください。",
            PageKind.LOGIN_PASSWORD: "パスワードを入力して「ログイン」を押してください。",
            PageKind.CAPTCHA: "画像の文字を入力して「ログイン」を押してください。",
            PageKind.ONE_TIME_CODE: "携帯電話に届いた確認コードを入力して「認証する」を押してください。",
            PageKind.BUSINESS: "ビジネスIDとパスワードを入力して「ログイン」を押してください。",
        }
        if kind in hints:
            on_status(hints[kind])
