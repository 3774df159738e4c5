"""The Yahoo sandbox's world: account, sessions, 競りナビ items and their auctions, orders, a clock.

Everything is in memory (dicts keyed by id, insertion order = creation order) so that pages of 50/100
rows over 5,000+ records render quickly; `save`/`load` keep it in a JSON file (atomic replace).
Randomness is deterministic: every draw hashes (seed, what, id, hour), so the same calls give the
same world, however `advance` is split.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sandbox.yahoo import csvspec

JST = timezone(timedelta(hours=9))
START_TIME = datetime(2026, 11, 22, 9, 0, tzinfo=JST).timestamp()
SESSION_TTL_HOURS = 24 * 14  # "ログインしたままにする": two weeks of sandbox time
CAPTCHA_AFTER_FAILURES = 3
SELLING_PAGE_SIZE = 50
ITEMS_PAGE_SIZE = 50
SOLD_PAGE_SIZE = 100
ORDERS_PAGE_SIZE = 50

# 注文ステータス (official codes) and the other order fields' labels.
ORDER_STATUSES: dict[int, str] = {1: "予約中", 2: "処理中", 3: "保留", 4: "キャンセル", 5: "完了"}
PAY_STATUSES: tuple[str, ...] = ("未入金", "入金済み")
SHIP_STATUSES: tuple[str, ...] = ("出荷不可", "出荷可", "出荷処理中", "出荷済み", "着荷済み")
STORE_STATUSES: tuple[str, ...] = ("未処理", "入金済み", "発送済み", "対応終了", "キャンセル")
CARRIERS: dict[str, str] = {
    "yamato": "ヤマト運輸",
    "sagawa": "佐川急便",
    "jp": "日本郵便",
    "seino": "西濃運輸",
    "other": "その他",
}
# World next: Yahoo's numeric ShipCompanyCode values; an order there stores the label.
NEXT_CARRIERS: dict[str, str] = {
    "1001": "ヤマト運輸",
    "1002": "佐川急便",
    "1003": "日本郵便",
    "1004": "西濃運輸",
    "1099": "その他",
}
WORLDS: tuple[str, ...] = ("classic", "next")
PAYMENT_METHODS: tuple[str, ...] = (
    "クレジットカード決済",
    "PayPay残高等",
    "銀行振込",
    "コンビニ決済",
)

ITEM_REGISTERED = "registered"  # 未出品: saved in a folder, no auction yet (world next's upload)
ITEM_SELLING = "selling"  # 出品中
ITEM_SOLD = "sold"  # 終了（落札者あり）
ITEM_UNSOLD = "unsold"  # 終了（落札者なし）
ITEM_ENDED_EARLY = "ended"  # 早期終了
ITEM_STATUS_LABELS: dict[str, str] = {
    ITEM_REGISTERED: "未出品",
    ITEM_SELLING: "出品中",
    ITEM_SOLD: "終了（落札者あり）",
    ITEM_UNSOLD: "終了（落札者なし）",
    ITEM_ENDED_EARLY: "早期終了",
}

_SURNAMES = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"),
             ("伊藤", "イトウ"), ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"),
             ("小林", "コバヤシ"), ("加藤", "カトウ")]  # fmt: skip
_GIVEN = [("太郎", "タロウ"), ("花子", "ハナコ"), ("健", "ケン"), ("美咲", "ミサキ"),
          ("翔太", "ショウタ"), ("陽菜", "ヒナ"), ("大輔", "ダイスケ"), ("さくら", "サクラ")]  # fmt: skip
_ADDRESSES = [("東京都", "豊島区南池袋1-2-3", "171-0022"), ("大阪府", "大阪市北区梅田2-4-9", "530-0001"),
              ("愛知県", "名古屋市中村区名駅4-7-1", "450-0002"), ("福岡県", "福岡市博多区博多駅前3-1-1", "812-0011"),
              ("北海道", "札幌市中央区北1条西2-1", "060-0001"), ("神奈川県", "横浜市西区みなとみらい2-2-1", "220-0012")]  # fmt: skip
_TITLES = ["ルイヴィトン モノグラム ショルダーバッグ", "SEIKO セイコー 腕時計 クォーツ",
           "Nintendo Switch 本体 グレー", "ロレックス 純正 ボックス", "iPhone 13 128GB ミッドナイト",
           "シャネル マトラッセ チェーンウォレット", "Canon EOS Kiss X10 ボディ", "ティファニー オープンハート ネックレス",
           "ノースフェイス ダウンジャケット Lサイズ", "ルクルーゼ 鍋 22cm オレンジ"]  # fmt: skip


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write a temp file beside the target, fsync, rename over it: a crash leaves old or new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def now_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, JST).isoformat()


def fmt_jst(ts: float | None) -> str:
    """'2026/11/22 09:00' as the store pages show times."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, JST).strftime("%Y/%m/%d %H:%M")


def yen(n: int) -> str:
    return f"{n:,}円"


def bid_increment(price: int) -> int:
    """Yahoo!オークション's bid increments."""
    if price < 1000:
        return 10
    if price < 5000:
        return 100
    if price < 10000:
        return 250
    if price < 50000:
        return 500
    return 1000


@dataclass
class Account:
    yahoo_id: str = "shop-demo"
    password: str = "demo-pass-1234"  # noqa: S105 - the sandbox's public demo login
    business_id: str = "biz-demo"
    business_password: str = "biz-pass-1234"  # noqa: S105
    store_id: str = "recore-demo"
    store_name: str = "リコレ デモストア"
    sms_auth: bool = False  # SMS認証 「利用する」 stops unattended login


@dataclass
class Session:
    sid: str
    stage: str  # "yid" (Yahoo ID passed, business ID step next), "sms" (code asked), "full"
    expires_at: float
    sms_code: str = ""


@dataclass
class Item:
    """A 競りナビ item (one uploaded row or one form submission) and its current auction."""

    item_id: int
    folder_id: int
    values: dict[str, str]  # CSV column name -> value (only non-empty values are kept)
    images: list[dict[str, Any]]
    source: str  # upload | form | seed | bulk
    created_at: float
    updated_at: float
    auction_id: str
    status: str
    start_time: float
    end_time: float
    current_price: int
    bids: int = 0
    watchers: int = 0
    high_bidder: str = ""
    resubmits_left: int = 0
    past_auction_ids: list[str] = field(default_factory=list)
    closed_at: float | None = None
    sold_price: int | None = None
    winner: str = ""
    order_id: str = ""

    def v(self, column: str) -> str:
        return self.values.get(column, "")

    @property
    def management_number(self) -> str:
        return self.v("管理番号")

    @property
    def title(self) -> str:
        return self.v("タイトル")

    @property
    def start_price(self) -> int:
        return int(self.v("開始価格") or 0)

    @property
    def buyout_price(self) -> int:
        return int(self.v("即決価格") or 0)


@dataclass
class Order:
    order_id: str
    item_id: int
    auction_id: str
    management_number: str
    title: str
    order_time: float
    updated_at: float
    order_status: int
    pay_status: str
    ship_status: str
    store_status: str
    buyer_id: str
    buyer_name: str
    buyer_kana: str
    postal_code: str
    address: str
    phone: str
    mail: str
    price: int
    shipping_fee: int
    payment_method: str
    carrier: str = ""
    tracking_number: str = ""
    paid_at: float | None = None
    shipped_at: float | None = None

    @property
    def total(self) -> int:
        return self.price + self.shipping_fee

    @property
    def order_status_label(self) -> str:
        return ORDER_STATUSES[self.order_status]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["total"] = self.total
        d["order_status_label"] = self.order_status_label
        d["order_time_iso"] = now_iso(self.order_time)
        return d


def _item_dict(item: Item) -> dict[str, Any]:
    d = dict(vars(item))
    d["values"] = dict(item.values)
    d["images"] = [dict(im) for im in item.images]
    d["past_auction_ids"] = list(item.past_auction_ids)
    return d


def default_faults() -> dict[str, Any]:
    return {
        "latency_ms": 0,
        "error_5xx": 0,  # int: that many next requests fail; True: all fail
        "sms_wall": False,
        "layout_changed": False,
        "spurious_comm_error": 0,  # int: that many next successful uploads; True: all
        "session_ttl_hours": SESSION_TTL_HOURS,
        "list_delay_ms": 150,  # world next: the list shells wait this long before their XHR
    }


class World:
    """The whole store. Methods mutate and call `touch()` so the app can persist."""

    def __init__(self, seed: int = 20261122, name: str = "classic") -> None:
        if name not in WORLDS:
            raise ValueError(f"world must be one of {WORLDS}")
        self.seed = seed
        self.name = name  # which pages the store shows: "classic" or "next"
        self.clock = START_TIME
        self.account = Account()
        self.sessions: dict[str, Session] = {}
        self.failed_logins: dict[str, int] = {}
        self.captchas: dict[str, str] = {}
        self.faults: dict[str, Any] = default_faults()
        self.folders: dict[int, str] = {1: "未分類"}
        self.items: dict[int, Item] = {}
        self.by_auction: dict[str, int] = {}
        self.orders: dict[str, Order] = {}
        self.next_item_id = 5_000_001
        self.next_auction_no = 1_100_000_001
        self.next_order_no = 10_000_001
        self.version = 0  # bumps on every change; the saver compares it

    # --- persistence ----------------------------------------------------------------------------
    def touch(self) -> None:
        self.version += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "seed": self.seed,
            "world": self.name,
            "clock": self.clock,
            "account": asdict(self.account),
            "sessions": [asdict(s) for s in self.sessions.values()],
            "failed_logins": self.failed_logins,
            "captchas": self.captchas,
            "faults": self.faults,
            "folders": {str(k): v for k, v in self.folders.items()},
            # shallow copies (asdict's deep copy is ten times slower and runs on the event loop)
            "items": [_item_dict(i) for i in self.items.values()],
            "orders": [dict(vars(o)) for o in self.orders.values()],
            "counters": [self.next_item_id, self.next_auction_no, self.next_order_no],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> World:
        w = cls(seed=int(data["seed"]), name=str(data.get("world") or "classic"))
        w.clock = float(data["clock"])
        w.account = Account(**data["account"])
        w.sessions = {s["sid"]: Session(**s) for s in data["sessions"]}
        w.failed_logins = dict(data["failed_logins"])
        w.captchas = dict(data["captchas"])
        w.faults = {**default_faults(), **data["faults"]}
        w.folders = {int(k): v for k, v in data["folders"].items()}
        for raw in data["items"]:
            item = Item(**raw)
            w.items[item.item_id] = item
            if item.auction_id:  # a registered item has none yet
                w.by_auction[item.auction_id] = item.item_id
            for old in item.past_auction_ids:
                w.by_auction[old] = item.item_id
        w.orders = {o["order_id"]: Order(**o) for o in data["orders"]}
        w.next_item_id, w.next_auction_no, w.next_order_no = data["counters"]
        return w

    def save(self, path: Path) -> None:
        write_json_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> World:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    # --- deterministic randomness ---------------------------------------------------------------
    def draw(self, *key: object) -> float:
        """A number in [0, 1) fixed by (seed, key)."""
        h = hashlib.blake2b(repr((self.seed, *key)).encode(), digest_size=8).digest()
        return int.from_bytes(h, "big") / 2**64

    def pick(self, seq: list[Any] | tuple[Any, ...], *key: object) -> Any:
        return seq[int(self.draw(*key) * len(seq))]

    # --- sessions and login ---------------------------------------------------------------------
    def new_session(self, stage: str) -> Session:
        ttl = float(self.faults.get("session_ttl_hours") or SESSION_TTL_HOURS)
        s = Session(secrets.token_urlsafe(24), stage, self.clock + ttl * 3600)
        self.sessions[s.sid] = s
        self.touch()
        return s

    def session(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        s = self.sessions.get(sid)
        if s is None:
            return None
        if s.expires_at <= self.clock:
            del self.sessions[sid]
            self.touch()
            return None
        return s

    def expire_sessions(self) -> int:
        n = len(self.sessions)
        self.sessions.clear()
        self.touch()
        return n

    def captcha_required(self, handle: str) -> bool:
        return self.failed_logins.get(handle, 0) >= CAPTCHA_AFTER_FAILURES

    def new_captcha(self, handle: str) -> str:
        answer = "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ23456789") for _ in range(5))
        self.captchas[handle] = answer
        self.touch()
        return answer

    def sms_required(self) -> bool:
        return bool(self.account.sms_auth or self.faults.get("sms_wall"))

    # --- folders and items ----------------------------------------------------------------------
    def folder_for(self, path: str) -> int:
        """商品保存先フォルダパス → folder id (created on first use); blank → 1 未分類."""
        if not path:
            return 1
        for fid, name in self.folders.items():
            if name == path:
                return fid
        fid = max(self.folders) + 1
        self.folders[fid] = path
        return fid

    def new_auction_id(self) -> str:
        """ASSUMPTION: our auction ids are 'x' + 10 digits (real ones look like c1133337781)."""
        aid = f"x{self.next_auction_no}"
        self.next_auction_no += 1
        return aid

    def end_time_for(self, start: float, duration_days: int, end_hour: int) -> float:
        """The auction ends `duration_days` days later at `end_hour`:00 JST."""
        d = datetime.fromtimestamp(start, JST) + timedelta(days=duration_days)
        return d.replace(hour=end_hour, minute=0, second=0, microsecond=0).timestamp()

    def register_item(
        self,
        values: dict[str, str],
        images: list[dict[str, Any]],
        source: str,
        folder_id: int | None = None,
    ) -> Item:
        """Store a validated row in its folder, not yet up for auction (state registered)."""
        clean = {k: v for k, v in values.items() if v != ""}
        fid = folder_id if folder_id in self.folders else None
        if fid is None:
            fid = self.folder_for(clean.get("商品保存先フォルダパス", ""))
        now = self.clock
        item = Item(
            item_id=self.next_item_id,
            folder_id=fid,
            values=clean,
            images=images,
            source=source,
            created_at=now,
            updated_at=now,
            auction_id="",
            status=ITEM_REGISTERED,
            start_time=0.0,
            end_time=0.0,
            current_price=int(clean.get("開始価格", "1")),
        )
        self.next_item_id += 1
        self.items[item.item_id] = item
        self.touch()
        return item

    def start_item(self, item: Item) -> str | None:
        """Put a registered item up for auction now (a new auction id). Returns a Japanese
        error, or None when started."""
        if item.status != ITEM_REGISTERED:
            return "未出品の商品ではないため出品開始できません"
        now = self.clock
        item.auction_id = self.new_auction_id()
        item.status = ITEM_SELLING
        item.start_time = now
        item.end_time = self.end_time_for(
            now, int(item.v("期間") or 7), int(item.v("終了時間") or 22)
        )
        item.current_price = item.start_price or 1
        item.resubmits_left = int(item.v("商品の自動再出品") or 0)
        item.updated_at = now
        self.by_auction[item.auction_id] = item.item_id
        self.touch()
        return None

    def create_item(
        self,
        values: dict[str, str],
        images: list[dict[str, Any]],
        source: str,
        folder_id: int | None = None,
    ) -> Item:
        """Store a validated row and put it up for auction at once (classic's upload, the
        form in both worlds, seed and bulk)."""
        item = self.register_item(values, images, source, folder_id)
        self.start_item(item)
        return item

    def update_item(self, item: Item, values: dict[str, str], images: list[dict[str, Any]]) -> None:
        item.values = {k: v for k, v in values.items() if v != ""}
        item.images = images
        item.updated_at = self.clock
        if item.status in (ITEM_SELLING, ITEM_REGISTERED) and item.bids == 0:
            item.current_price = item.start_price
        self.touch()

    def item_by_auction(self, auction_id: str) -> Item | None:
        iid = self.by_auction.get(auction_id)
        return self.items.get(iid) if iid is not None else None

    def listing_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items.values():
            mn = item.management_number
            counts[mn] = counts.get(mn, 0) + 1
        return counts

    # --- bidding and closing --------------------------------------------------------------------
    def place_bid(self, item: Item, bidder: str, price: int | None = None) -> None:
        """A bid at `price` (default: the next valid amount). Raises ValueError when refused."""
        if item.status != ITEM_SELLING:
            raise ValueError("auction is not running")
        minimum = (
            item.current_price
            if item.bids == 0
            else item.current_price + bid_increment(item.current_price)
        )
        amount = minimum if price is None else price
        if amount < minimum:
            raise ValueError(f"bid {amount} below minimum {minimum}")
        item.current_price = amount
        item.bids += 1
        item.high_bidder = bidder
        item.updated_at = self.clock
        self.touch()
        if item.buyout_price and amount >= item.buyout_price:
            item.current_price = item.buyout_price
            self.close(item, self.clock)

    def close(self, item: Item, at: float) -> Order | None:
        """End the auction: a winner makes an order; no winner may resubmit (a new auction id)."""
        if item.status != ITEM_SELLING:
            return None
        item.closed_at = at
        item.updated_at = at
        self.touch()
        if item.bids > 0:
            item.status = ITEM_SOLD
            item.sold_price = item.current_price
            item.winner = item.high_bidder
            order = self._new_order(item, at)
            item.order_id = order.order_id
            return order
        if item.resubmits_left > 0:
            # 自動再出品: a new auction of the same item, same price (changePriceRatio 0)
            item.resubmits_left -= 1
            item.past_auction_ids.append(item.auction_id)
            item.auction_id = self.new_auction_id()
            self.by_auction[item.auction_id] = item.item_id
            item.start_time = at
            item.end_time = self.end_time_for(
                at, int(item.v("期間") or 7), int(item.v("終了時間") or 22)
            )
            item.closed_at = None
            item.watchers = 0
            return None
        item.status = ITEM_UNSOLD
        return None

    def end_early(self, item: Item) -> str | None:
        """早期終了: only without bids. Returns a Japanese error, or None when ended."""
        if item.status == ITEM_REGISTERED:
            return "出品していない商品は終了できません"
        if item.status != ITEM_SELLING:
            return "このオークションはすでに終了しています"
        if item.bids > 0:
            return "入札があるため、オークションを早期終了できません"
        item.status = ITEM_ENDED_EARLY
        item.closed_at = self.clock
        item.updated_at = self.clock
        self.touch()
        return None

    def _new_order(self, item: Item, at: float) -> Order:
        n = self.next_order_no
        self.next_order_no += 1
        sur = self.pick(_SURNAMES, "sur", n)
        given = self.pick(_GIVEN, "given", n)
        pref, street, postal = self.pick(_ADDRESSES, "addr", n)
        fee = 0 if item.v("送料負担") == "出品者" else 800
        order = Order(
            order_id=f"{self.account.store_id}-{n}",
            item_id=item.item_id,
            auction_id=item.auction_id,
            management_number=item.management_number,
            title=item.title,
            order_time=at,
            updated_at=at,
            order_status=2,
            pay_status="未入金",
            ship_status="出荷不可",
            store_status="未処理",
            buyer_id=item.winner or f"buyer_{n}",
            buyer_name=f"{sur[0]} {given[0]}",
            buyer_kana=f"{sur[1]} {given[1]}",
            postal_code=postal,
            address=f"{pref}{street}",
            phone=f"090-{1000 + n % 9000:04d}-{(n * 7919) % 10000:04d}",
            mail=f"buyer{n}@example.jp",
            price=item.sold_price or item.current_price,
            shipping_fee=fee,
            payment_method=self.pick(PAYMENT_METHODS, "pay", n),
        )
        self.orders[order.order_id] = order
        self.touch()
        return order

    # --- orders ---------------------------------------------------------------------------------
    def pay(self, order: Order, at: float) -> None:
        order.pay_status = "入金済み"
        order.ship_status = "出荷可"
        order.store_status = "入金済み"
        order.paid_at = at
        order.updated_at = at
        self.touch()

    def cancel(self, order: Order, at: float) -> str | None:
        if order.ship_status in ("出荷済み", "着荷済み"):
            return "出荷済みの注文はキャンセルできません"
        if order.order_status == 4:
            return "この注文はすでにキャンセルされています"
        order.order_status = 4
        order.store_status = "キャンセル"
        order.updated_at = at
        self.touch()
        return None

    def carrier_value(self, classic_code: str) -> str:
        """What an order stores as its carrier: classic's code, or (world next) the label."""
        return CARRIERS[classic_code] if self.name == "next" else classic_code

    def set_tracking(self, order: Order, carrier: str, number: str) -> str | None:
        """`carrier`: a classic code (yamato …) or a carrier label (world next stores labels)."""
        if order.order_status == 4:
            return "キャンセルされた注文は変更できません"
        if carrier not in CARRIERS and carrier not in CARRIERS.values():
            return "配送会社を選択してください"
        if not number or not all(c.isascii() and (c.isalnum() or c == "-") for c in number):
            return "発送伝票番号は半角英数字と「-」で入力してください"
        if len(number) > 30:
            return "発送伝票番号は30文字以内で入力してください"
        order.carrier = carrier
        order.tracking_number = number
        order.updated_at = self.clock
        self.touch()
        return None

    def ship(self, order: Order) -> str | None:
        if order.order_status == 4:
            return "キャンセルされた注文は出荷できません"
        if order.pay_status != "入金済み" and order.payment_method != "代金引換":
            return "入金が確認できていないため出荷済みにできません"
        if order.ship_status == "出荷済み":
            return "この注文はすでに出荷済みです"
        order.ship_status = "出荷済み"
        order.store_status = "発送済み"
        order.shipped_at = self.clock
        order.updated_at = self.clock
        self.touch()
        return None

    def complete(self, order: Order) -> str | None:
        if order.order_status == 4:
            return "キャンセルされた注文は完了にできません"
        if not order.tracking_number:
            return "発送伝票番号を登録してから完了にしてください"
        if order.ship_status != "出荷済み":
            return "出荷済みにしてから完了にしてください"
        order.order_status = 5
        order.store_status = "対応終了"
        order.updated_at = self.clock
        self.touch()
        return None

    def set_order_fields(self, order: Order, body: dict[str, Any]) -> None:
        """Sandbox control: set statuses directly. ストアステータス implies the usual other fields
        unless they are given explicitly."""
        store = body.get("store_status")
        if store is not None:
            if store not in STORE_STATUSES:
                raise ValueError(f"store_status must be one of {STORE_STATUSES}")
            implied: dict[str, Any] = {
                "未処理": {},
                "入金済み": {"pay_status": "入金済み", "ship_status": "出荷可"},
                "発送済み": {"pay_status": "入金済み", "ship_status": "出荷済み"},
                "対応終了": {
                    "pay_status": "入金済み",
                    "ship_status": "出荷済み",
                    "order_status": 5,
                },
                "キャンセル": {"order_status": 4},
            }[store]
            order.store_status = store
            for k, v in implied.items():
                setattr(order, k, v)
        if "order_status" in body:
            code = int(body["order_status"])
            if code not in ORDER_STATUSES:
                raise ValueError("order_status must be 1..5")
            order.order_status = code
        if "pay_status" in body:
            if body["pay_status"] not in PAY_STATUSES:
                raise ValueError(f"pay_status must be one of {PAY_STATUSES}")
            order.pay_status = body["pay_status"]
        if "ship_status" in body:
            if body["ship_status"] not in SHIP_STATUSES:
                raise ValueError(f"ship_status must be one of {SHIP_STATUSES}")
            order.ship_status = body["ship_status"]
        if order.pay_status == "入金済み" and order.paid_at is None:
            order.paid_at = self.clock
        if order.ship_status == "出荷済み" and order.shipped_at is None:
            order.shipped_at = self.clock
        order.updated_at = self.clock
        self.touch()

    # --- time -----------------------------------------------------------------------------------
    def _bid_rate(self, item: Item) -> float:
        """Per-hour bid probability: a third of items nobody wants, the rest 3–15 %."""
        r = self.draw("pop", item.item_id)
        return 0.0 if r < 0.3 else 0.03 + 0.12 * (r - 0.3) / 0.7

    def advance(self, hours: float) -> dict[str, int]:
        """Move the clock on, hour by hour: bids and watchers arrive, auctions end, winners become
        orders (未処理), buyers pay (入金済み) or, rarely and mostly when late, cancel."""
        if hours < 0:
            raise ValueError("hours must be >= 0")
        target = self.clock + hours * 3600
        stats = {"bids": 0, "sold": 0, "unsold": 0, "resubmitted": 0, "paid": 0, "cancelled": 0}
        tick = (int(self.clock // 3600) + 1) * 3600
        times = []
        while tick <= target:
            times.append(float(tick))
            tick += 3600
        if not times or times[-1] != target:
            times.append(target)  # a partial hour at the end: closes auctions, draws nothing
        selling = [i for i in self.items.values() if i.status == ITEM_SELLING]
        for t in times:
            self.clock = t  # events carry the hour they happen in
            hour = int(t // 3600)
            still: list[Item] = []
            for item in selling:
                if item.end_time <= t:
                    before = item.auction_id
                    order = self.close(item, item.end_time)
                    if order is not None:
                        stats["sold"] += 1
                    elif item.status == ITEM_SELLING and item.auction_id != before:
                        stats["resubmitted"] += 1
                        still.append(item)
                    else:
                        stats["unsold"] += 1
                    continue
                if t % 3600 == 0:
                    rate = self._bid_rate(item)
                    if rate and self.draw("bid", item.auction_id, hour) < rate:
                        self.place_bid(
                            item,
                            f"bidder_{int(self.draw('who', item.item_id, hour) * 9000) + 1000}",
                        )
                        stats["bids"] += 1
                        if item.status != ITEM_SELLING:
                            stats["sold"] += 1
                            continue
                    if self.draw("watch", item.auction_id, hour) < rate * 1.5:
                        item.watchers += 1
                still.append(item)
            selling = still
            if t % 3600 == 0:
                for order in self.orders.values():
                    if order.order_status != 2 or order.pay_status != "未入金":
                        continue
                    age_h = (t - order.order_time) / 3600
                    if age_h < 1:
                        continue
                    r = self.draw("order", order.order_id, hour)
                    late = age_h >= 48
                    if r < (0.15 if late else 0.005):
                        self.cancel(order, t)
                        stats["cancelled"] += 1
                    elif r < 0.35:
                        self.pay(order, t)
                        stats["paid"] += 1
        self.clock = target
        self.touch()
        return stats

    # --- seeding --------------------------------------------------------------------------------
    def base_values(self, n: int, mn: str) -> dict[str, str]:
        title = self.pick(_TITLES, "title", n)
        price = (int(self.draw("price", n) * 50) + 1) * 500
        return {
            "管理番号": mn,
            "カテゴリ": self.pick(["2084207680", "23828", "2084005296", "2084060325"], "cat", n),
            "タイトル": f"{title} {mn}",
            "説明": f"{title}です。<br>中古品のため、多少の使用感があります。",
            "開始価格": str(price),
            "即決価格": str(price * 3) if self.draw("buyout", n) < 0.3 else "0",
            "個数": "1",
            "期間": str(int(self.draw("dur", n) * 7) + 1),
            "終了時間": str(int(self.draw("hour", n) * 24)),
            "商品発送元の都道府県": "東京都",
            "商品発送元の市区町村": "豊島区",
            "送料負担": "落札者" if self.draw("payer", n) < 0.7 else "出品者",
            "代金先払い、後払い": "代金先払い",
            "商品の状態": self.pick(list(csvspec.CONDITIONS), "cond", n),
            "悪評割合制限": "いいえ",
            "入札者認証制限": "いいえ",
            "自動延長": "はい",
            "商品の自動再出品": "0",
            "消費税設定": "10",
            "税込みフラグ": "はい",
            "配送グループ": "1",
            "発送までの日数": "1",
        }

    def seed_demo(self) -> None:
        """The demo store: 30 auctions running (a few with bids), 10 sold earlier with orders in
        every ストアステータス. Same seed, same store."""
        self.clock = START_TIME - 8 * 24 * 3600
        for n in range(1, 11):
            item = self.create_item(self.base_values(n, f"DEMO-{n:04d}"), [], "seed")
            for b in range(1 + n % 3):
                self.place_bid(item, f"bidder_{2000 + n * 10 + b}")
        self.clock = START_TIME - 24 * 3600
        for item in list(self.items.values()):
            self.close(item, self.clock)
        statuses = ["未処理", "未処理", "入金済み", "入金済み", "入金済み", "発送済み", "発送済み",
                    "対応終了", "対応終了", "キャンセル"]  # fmt: skip
        for order, status in zip(self.orders.values(), statuses, strict=False):
            if status in ("発送済み", "対応終了"):
                self.set_tracking(
                    order, self.carrier_value("yamato"), f"4000-{order.order_id[-4:]}-0001"
                )
            self.set_order_fields(order, {"store_status": status})
        self.clock = START_TIME - 2 * 3600
        for n in range(11, 41):
            item = self.create_item(self.base_values(n, f"DEMO-{n:04d}"), [], "seed")
            if n % 4 == 0:
                self.place_bid(item, f"bidder_{3000 + n}")
        self.clock = START_TIME
        self.touch()

    def bulk(self, selling: int, orders: int) -> dict[str, int]:
        """Thousands of records fast, for benchmarks: `selling` running auctions and `orders`
        orders (each from a sold auction)."""
        start = len(self.items)
        for k in range(selling):
            n = start + k + 1
            self.create_item(self.base_values(n, f"BULK-{n:06d}"), [], "bulk")
        for k in range(orders):
            n = start + selling + k + 1
            item = self.create_item(self.base_values(n, f"BULKO-{n:06d}"), [], "bulk")
            item.bids = 1
            item.high_bidder = f"bidder_{n}"
            self.close(item, self.clock)
        self.touch()
        return {"selling": selling, "orders": orders}
