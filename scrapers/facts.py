"""The schema of `facts.toml`: every Yahoo store fact the connector uses, as one checked structure.

`load_facts()` reads the packaged `facts.toml`; `load_facts(override)` lays a shop's own file over it
(same sections, only the keys that differ). Either way the result is checked against the classes
below: an unknown key, a missing key, a value of the wrong type or a pattern that does not compile
raises `FactsError` naming where, so a bad override stops the connector before any page is opened.

`StoreUrls` builds every URL from these facts and the store's origins (the real hosts, or one
sandbox origin from the `yahoo_base_url` setting).
"""

from __future__ import annotations

import re
import tomllib
import types
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

FACTS_FILE = Path(__file__).with_name("facts.toml")


class FactsError(ValueError):
    """The facts file (or a shop's override) does not fit the schema."""


# --- the schema ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Origins:
    login: str
    store_pro: str
    serinavi: str
    auction: str


@dataclass(frozen=True)
class Paths:
    serinavi_top: str
    store_top: str
    upload: str
    item_create: str
    item_edit: str
    item_end: str
    auction: str
    order_detail: str
    store_id_pattern: re.Pattern[str]


@dataclass(frozen=True)
class Texts:
    busy: tuple[str, ...]
    auction_id_pattern: re.Pattern[str]
    bare_auction_id_pattern: re.Pattern[str]
    auction_link_pattern: re.Pattern[str]
    management_number_pattern: re.Pattern[str]
    management_number_value: re.Pattern[str]
    yen_pattern: re.Pattern[str]
    error: str


@dataclass(frozen=True)
class LoginFacts:
    hosts: tuple[str, ...]
    paths: tuple[str, ...]
    chooser_link: str
    handle: tuple[str, ...]
    next_button: str
    password: tuple[str, ...]
    login_button: str
    captcha: tuple[str, ...]
    one_time_code: tuple[str, ...]
    one_time_code_texts: tuple[str, ...]
    business_id: tuple[str, ...]
    business_password: tuple[str, ...]
    business_button: str
    error: str
    bad_credentials_texts: tuple[str, ...]

    def is_login_address(self, url: str) -> bool:
        """A page here is part of a login, never a logged-in store page."""
        parts = urlsplit(url)
        if (parts.hostname or "") in self.hosts:
            return True
        return any(parts.path == p or parts.path.startswith(p + "/") for p in self.paths)


@dataclass(frozen=True)
class Choice:
    """A select or a radio group: by name when it has a stable one, else by its option labels."""

    names: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)  # value → option label

    def label_of(self, value: str) -> str:
        return self.labels.get(value, value)


@dataclass(frozen=True)
class FormFacts:
    page: str
    anchor: str
    image_input: str
    max_images: int
    confirm_buttons: tuple[str, ...]
    list_buttons: tuple[str, ...]
    field_error_attribute: str
    success_texts: tuple[str, ...]
    auction_id_label: str
    management_number_label: str
    draft_expired_texts: tuple[str, ...]
    fields: dict[str, str]  # CSV column → field name
    choices: dict[str, Choice]  # CSV column → choice
    checkboxes: dict[str, str]  # CSV column → label text

    def image(self, n: int) -> str:
        return self.image_input.format(n=n)

    @cached_property
    def label_of_field(self) -> dict[str, str]:
        """Field name → the CSV column it takes (for messages in staff's words)."""
        out = {name: column for column, name in self.fields.items()}
        for column, choice in self.choices.items():
            out.update({name: column for name in choice.names})
        return out


@dataclass(frozen=True)
class EditFacts:
    page: str
    title_field: str
    description_field: str
    start_price_field: str
    buyout_price_field: str
    save_button: str
    end_button: str
    saved_texts: tuple[str, ...]
    ended_texts: tuple[str, ...]
    status: str
    error: str
    cannot_end_with_bids_texts: tuple[str, ...]


@dataclass(frozen=True)
class ItemStates:
    status_registered: str
    status_selling: str
    status_sold: str
    status_unsold: str
    status_ended_early: str
    ended_markers: tuple[str, ...]
    start_button: str
    start_done_texts: tuple[str, ...]

    @property
    def statuses(self) -> tuple[str, ...]:
        return (
            self.status_registered,
            self.status_selling,
            self.status_sold,
            self.status_unsold,
            self.status_ended_early,
        )

    def is_live(self, status: str | None) -> bool:
        """On the store and not ended (selling, registered, or a state we do not know)."""
        return not status or not any(m in status for m in self.ended_markers)


@dataclass(frozen=True)
class UploadFacts:
    file_input: tuple[str, ...]
    submit_link: str
    result: str
    result_texts: tuple[str, ...]
    accepted_text: str
    comm_error_text: str
    errors_table: str
    accepted_table: str
    row_header: str
    column_header: str
    field_header: str
    management_number_header: str
    message_header: str
    auction_id_header: str
    folder_header: str


@dataclass(frozen=True)
class NavLink:
    texts: tuple[str, ...]
    fallback: str


@dataclass(frozen=True)
class Navigation:
    items: NavLink
    selling: NavLink
    sold: NavLink
    orders: NavLink


@dataclass(frozen=True)
class JsonFacts:
    rows: str
    total: str
    has_next: str
    fields: dict[str, str]  # our field → the JSON row's key


@dataclass(frozen=True)
class ListFacts:
    """One 競りナビ list (商品管理, 出品中, 落札分)."""

    name: str  # Japanese, for messages
    page_size: int
    required: tuple[str, ...]  # a row without these is reported, not read
    expected: tuple[str, ...]  # every row says these, or the page has changed
    json_fields: dict[str, str] = field(default_factory=dict)  # keys that differ on this list
    key: str = field(default="", metadata={"derived": True})  # items, selling or sold


@dataclass(frozen=True)
class Lists:
    page_param: str
    keyword_param: str
    loading: tuple[str, ...]
    loading_texts: tuple[str, ...]
    row_checkbox: str
    edit_link_marker: str
    edit_link_text: str
    total_pattern: re.Pattern[str]
    next_link_texts: tuple[str, ...]
    empty_texts: tuple[str, ...]
    labels: dict[str, tuple[str, ...]]  # field → label texts
    json: JsonFacts
    items: ListFacts
    selling: ListFacts
    sold: ListFacts

    def __post_init__(self) -> None:
        for key in ("items", "selling", "sold"):
            facts = getattr(self, key)
            object.__setattr__(self, key, _replace(facts, key=key))

    def json_keys(self, lst: ListFacts) -> dict[str, str]:
        return {**self.json.fields, **lst.json_fields}

    @cached_property
    def label_re(self) -> re.Pattern[str]:
        """「入札 3件」 → ("入札", "3件"): a cell's label and what follows it."""
        texts = sorted({t for ts in self.labels.values() for t in ts}, key=len, reverse=True)
        return re.compile(r"^(" + "|".join(map(re.escape, texts)) + r")[\s:：]+(.*)$", re.S)

    @cached_property
    def field_of_label(self) -> dict[str, str]:
        return {t: name for name, ts in self.labels.items() for t in ts}


@dataclass(frozen=True)
class OrderFacts:
    list_name: str
    list_page_size: int
    detail_name: str
    detail_table: str
    list_required: tuple[str, ...]
    detail_required: tuple[str, ...]
    message: str
    error: str
    ship_info_action: str
    ship_action: str
    cancel_action: str
    complete_action: str
    carrier_field: str
    tracking_field: str
    carrier_labels: dict[str, str]
    already_shipped_texts: tuple[str, ...]
    already_cancelled_texts: tuple[str, ...]
    status_cancelled: str
    status_done: str
    shipped_statuses: tuple[str, ...]
    shipped_store_statuses: tuple[str, ...]
    paid_status: str
    list_labels: dict[str, str]
    detail_labels: dict[str, str]


@dataclass(frozen=True)
class QuickFacts:
    """The quick check (every minute): the query that shows each list newest first (an empty
    one: the list's own order already is), and how many pages it reads at most per list when
    everything on them is new (the full sync reads the rest)."""

    sold_newest: dict[str, str] = field(default_factory=dict)
    orders_newest: dict[str, str] = field(default_factory=dict)
    # 出品中 sorted by its newest bids; empty: the store offers no such sort and the quick check
    # leaves the selling list to the full sync
    selling_newest_bids: dict[str, str] = field(default_factory=dict)
    max_pages: int = 5


@dataclass(frozen=True)
class Facts:
    origins: Origins
    paths: Paths
    texts: Texts
    login: LoginFacts
    form: FormFacts
    edit: EditFacts
    items: ItemStates
    upload: UploadFacts
    navigation: Navigation
    lists: Lists
    orders: OrderFacts
    quick: QuickFacts = field(default_factory=QuickFacts)


# --- loading and checking ------------------------------------------------------------------------
def _replace(obj: Any, **changes: Any) -> Any:
    values = {f.name: getattr(obj, f.name) for f in fields(obj)}
    values.update(changes)
    return type(obj)(**values)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(tp: Any, value: Any, where: str) -> Any:
    """`value` (from TOML) as the type `tp`, or FactsError naming `where`."""
    origin = get_origin(tp)
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise FactsError(f"{where}: a table is expected")
        hints = get_type_hints(tp)
        known = {f.name: f for f in fields(tp) if not f.metadata.get("derived")}
        unknown = set(value) - set(known)
        if unknown:
            raise FactsError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        kwargs = {}
        for name, f in known.items():
            if name in value:
                kwargs[name] = _build(hints[name], value[name], f"{where}.{name}")
            elif not _has_default(f):
                raise FactsError(f"{where}: {name} is missing")
        return tp(**kwargs)
    if tp is str:
        if not isinstance(value, str):
            raise FactsError(f"{where}: a text is expected")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise FactsError(f"{where}: a whole number is expected")
        return value
    if origin is re.Pattern:
        if not isinstance(value, str):
            raise FactsError(f"{where}: a pattern (text) is expected")
        try:
            return re.compile(value)
        except re.error as exc:
            raise FactsError(f"{where}: the pattern does not compile ({exc})") from None
    if origin is tuple:
        if not isinstance(value, list):
            raise FactsError(f"{where}: a list is expected")
        (item,) = get_args(tp)[:1]
        return tuple(_build(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise FactsError(f"{where}: a table is expected")
        _key, item = get_args(tp)
        return {str(k): _build(item, v, f"{where}.{k}") for k, v in value.items()}
    if origin in (Union, types.UnionType):
        raise FactsError(f"{where}: unsupported type {tp}")
    raise FactsError(f"{where}: unsupported type {tp}")


def _has_default(f: Any) -> bool:
    return f.default is not MISSING or f.default_factory is not MISSING


def facts_from_dict(data: dict[str, Any]) -> Facts:
    return _build(Facts, data, "facts")


def load_facts(override: Path | None = None) -> Facts:
    """The packaged facts, with a shop's override laid over them when given."""
    data = tomllib.loads(FACTS_FILE.read_text(encoding="utf-8"))
    if override is not None:
        try:
            extra = tomllib.loads(override.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise FactsError(f"{override}: cannot be read ({exc})") from None
        data = _merge(data, extra)
    return facts_from_dict(data)


# --- URLs ----------------------------------------------------------------------------------------
def with_query(url: str, **params: str | int) -> str:
    """`url` with these query parameters set (others kept, in order)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class StoreUrls:
    """Where the store's pages are. `base_url` None → the real hosts; else one sandbox origin.

    List URLs come from 競りナビ's own navigation when it has been read (`nav`: list key → href),
    else from the facts' fallback paths.
    """

    facts: Facts
    base_url: str | None = None
    store_id: str | None = None
    nav: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        o = self.facts.origins
        base = self.base_url.rstrip("/") if self.base_url else None
        self.base_url = base
        self.login_origin = base or o.login
        self.store_pro_origin = base or o.store_pro
        self.serinavi_origin = base or o.serinavi
        self.auction_origin = base or o.auction

    @property
    def is_sandbox(self) -> bool:
        return self.base_url is not None

    def _fill(self, template: str, **values: Any) -> str:
        if "{store_id}" in template and not self.store_id:
            raise LookupError("the store id is not known yet (read 競りナビ first)")
        return template.format(store_id=self.store_id, **values)

    def serinavi_top(self) -> str:
        return self.serinavi_origin + self.facts.paths.serinavi_top

    def store_top(self) -> str:
        if self.store_id:
            return self.store_pro_origin + self._fill(self.facts.paths.store_top)
        return self.serinavi_top()

    def upload(self) -> str:
        return self.serinavi_origin + self.facts.paths.upload

    def item_create(self, folder_id: int | str = 1) -> str:
        return self.serinavi_origin + self._fill(self.facts.paths.item_create, folder_id=folder_id)

    def item_edit(self, item_id: int | str) -> str:
        return self.serinavi_origin + self._fill(self.facts.paths.item_edit, item_id=item_id)

    def item_end(self) -> str:
        return self.serinavi_origin + self.facts.paths.item_end

    def auction(self, auction_id: str) -> str:
        """The public auction page; the URL reported to ReCORE as `mall_url`."""
        return self.auction_origin + self._fill(self.facts.paths.auction, auction_id=auction_id)

    def order_detail(self, order_id: str) -> str:
        return self.store_pro_origin + self._fill(self.facts.paths.order_detail, order_id=order_id)

    def list_page(self, key: str, page: int = 1, **query: str | int) -> str:
        """Page `page` of a list (items, selling, sold, orders), with extra query values."""
        href = self.nav.get(key)
        if href is None:
            link: NavLink = getattr(self.facts.navigation, key)
            origin = self.store_pro_origin if key == "orders" else self.serinavi_origin
            href = origin + self._fill(link.fallback)
        return with_query(self.absolute(href), **query, **{self.facts.lists.page_param: page})

    def absolute(self, href: str, origin: str | None = None) -> str:
        """A link from a store page made absolute (hrefs there are site-relative)."""
        if href.startswith(("http://", "https://")):
            return href
        return (origin or self.serinavi_origin) + ("" if href.startswith("/") else "/") + href

    def may_log_in_at(self, url: str) -> bool:
        """Credentials are typed only on Yahoo's own login hosts (https) or the sandbox's origin."""
        parts = urlsplit(url)
        if self.base_url is not None:
            base = urlsplit(self.base_url)
            if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
                return True
        return parts.scheme == "https" and (parts.hostname or "") in self.facts.login.hosts


FACTS = load_facts()
