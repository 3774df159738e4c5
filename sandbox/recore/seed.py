"""Deterministic seed: realistic second-hand stock, some of it deliberately breaking Yahoo's rules.

`SEEDED_INVALID` says which seeded 管理番号 breaks which rule (one rule each) when the
inventories carry the Yahoo fields (`rich`); `SEEDED_INVALID_SPEC` which ones still break a rule
when they show only what ReCORE's spec shows (`spec`: title, one photo, price and quantity; the
rest comes from the item, its catalogue category and the connector's templates). The
connector's tests check that exactly those items are refused with a clear message.
Yahoo category ids are illustrative (Yahoo-like numeric ids), not a checked Yahoo category tree.

Every listing allocates one item (在庫) whose code is the listing's 管理番号, whose grade stands
for its condition (`GRADE_OF_CONDITION`) and whose catalogue entry is in the shop's own
category (`RECORE_CATEGORIES`); its condition note is the listing's notes, one per line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .world import JST, STATE_VERSION, World

# Seed clock: a fixed past moment, so every seeded timestamp and task id is the same on each run.
SEED_BASE_TIME = int(datetime(2026, 11, 16, 10, 0, tzinfo=JST).timestamp())

CATEGORIES: dict[int, str] = {
    2084261685: "カメラ、光学機器 > デジタルカメラ > 一眼レフ",
    2084261684: "カメラ、光学機器 > デジタルカメラ > コンパクトデジタルカメラ",
    2084261686: "カメラ、光学機器 > デジタルカメラ > ミラーレス一眼",
    2084005290: "ファッション > 女性用バッグ > ハンドバッグ",
    2084005291: "ファッション > 女性用バッグ > ショルダーバッグ",
    2084050115: "ファッション > 男性用バッグ > リュックサック、デイパック",
    23828: "ファッション > ブランド腕時計 > セイコー",
    2084062603: "ファッション > 男性用腕時計 > デジタル",
    2084050111: "ファッション > ブランド腕時計 > タグ・ホイヤー",
    2084315561: "テレビゲーム > 家庭用ゲーム本体 > ニンテンドースイッチ本体",
    2084315562: "テレビゲーム > 家庭用ゲーム本体 > プレイステーション5本体",
    2084315570: "テレビゲーム > 家庭用ゲームソフト > ニンテンドースイッチ",
    2084207680: "住まい、インテリア > キッチン、食器 > 調理器具 > 鍋",
    2084046826: "家電、AV、カメラ > 生活家電 > 炊飯器",
    2084046823: "家電、AV、カメラ > 生活家電 > トースター",
    2084070223: "住まい、インテリア > キッチン、食器 > 調理器具 > フライパン",
    2084239067: "オーディオ機器 > ヘッドフォン、イヤフォン > イヤフォン",
    2084303361: "スポーツ、レジャー > スポーツ別 > テニス > ラケット",
    2084046838: "家電、AV、カメラ > 生活家電 > 掃除機",
}


# The shop's own category tree in ReCORE (カタログのカテゴリ): id → (name, parent id, the Yahoo
# category the demo's category table maps it to). ReCORE knows nothing of Yahoo's ids: that
# table is the connector's (see `demo_category_table`).
RECORE_CATEGORIES: dict[int, tuple[str, int | None, int | None]] = {
    1: ("その他", None, None),
    100: ("カメラ", None, None),
    101: ("一眼レフカメラ", 100, 2084261685),
    102: ("コンパクトデジタルカメラ", 100, 2084261684),
    103: ("ミラーレス一眼", 100, 2084261686),
    200: ("バッグ", None, None),
    201: ("ハンドバッグ", 200, 2084005290),
    202: ("ショルダーバッグ", 200, 2084005291),
    203: ("リュック", 200, 2084050115),
    300: ("腕時計", None, None),
    301: ("国産腕時計", 300, 23828),
    302: ("デジタル腕時計", 300, 2084062603),
    303: ("海外ブランド腕時計", 300, 2084050111),
    400: ("ゲーム", None, None),
    401: ("ニンテンドースイッチ本体", 400, 2084315561),
    402: ("プレイステーション本体", 400, 2084315562),
    403: ("ゲームソフト", 400, 2084315570),
    500: ("キッチン・生活家電", None, None),
    501: ("鍋", 500, 2084207680),
    502: ("炊飯器", 500, 2084046826),
    503: ("トースター", 500, 2084046823),
    504: ("フライパン", 500, 2084070223),
    505: ("掃除機", 500, 2084046838),
    600: ("オーディオ", None, None),
    601: ("イヤホン・ヘッドホン", 600, 2084239067),
    700: ("スポーツ", None, None),
    701: ("テニス用品", 700, 2084303361),
}
# Yahoo category of the seeded stock → the ReCORE category its catalogue entry is in.
RECORE_CATEGORY_OF: dict[int, int] = {
    yahoo: recore for recore, (_n, _p, yahoo) in RECORE_CATEGORIES.items() if yahoo is not None
}
# The shop's grade names (ReCORE's グレード) and the Yahoo condition each stands for. ReCORE's
# spec shows `grade: {"id", "name": "中古A"}`; the names are the shop's own.
GRADE_OF_CONDITION: dict[str, str] = {
    "未使用": "未使用",
    "未使用に近い": "中古S",
    "目立った傷や汚れなし": "中古A",
    "やや傷や汚れあり": "中古B",
    "傷や汚れあり": "中古C",
    "全体的に状態が悪い": "ジャンク",
}
GRADES: tuple[str, ...] = ("新品", *GRADE_OF_CONDITION.values())


def populate_catalogue(world: World) -> None:
    """The category tree and grade names every sandbox world starts with (seeded or not)."""
    for category_id, (name, parent, _yahoo) in RECORE_CATEGORIES.items():
        world.add_category(category_id, name, parent)
    for name in GRADES:
        world.grade_id(name)


def item_fields(mall_attributes: dict[str, Any], notes: list[str] | None = None) -> dict[str, Any]:
    """The stock behind a seeded listing: grade from its condition, the shop's category from
    its Yahoo category, the notes as ReCORE's condition note (plain text, one line each)."""
    condition = mall_attributes.get("condition")
    category = mall_attributes.get("category_id")
    return {
        "grade": GRADE_OF_CONDITION.get(condition) if isinstance(condition, str) else None,
        "category_id": RECORE_CATEGORY_OF.get(category, 1) if isinstance(category, int) else 1,
        "condition_note": "\n".join(notes) if notes else None,
    }


def upgrade_v1(world: World, data: dict[str, Any]) -> None:
    """Load a version-1 state file (no items, products, categories, grades): each listing's and
    pending item's stock is made from its Yahoo fields, under the item id it already allocates."""
    world.load_json(
        {
            **data,
            "version": STATE_VERSION,
            "items": [],
            "products": [],
            "categories": [],
            "grades": [],
        }
    )
    populate_catalogue(world)
    stock = [
        (x["variants"][0]["allocations"][0]["item_id"], x)
        for x in world.listings.values()
        if x["variants"] and x["variants"][0]["allocations"]
    ]
    stock += [(x["item_id"], x) for x in world.pending.values()]
    for item_id, x in stock:
        attrs = x["mall_attributes"]
        fields = item_fields(attrs)
        world.add_item(
            code=attrs.get("management_number"),
            title=x["title"],
            price=attrs.get("buyout_price") or attrs.get("start_price"),
            grade=fields["grade"],
            condition_note=None,
            category_id=fields["category_id"],
            image_ids=x["image_ids"],
            at=x.get("created_at"),
            item_id=item_id,
        )
    world.counters["item"] = max([world.counters.get("item", 70000), *(i for i, _ in stock)])


def demo_category_table() -> list[dict[str, Any]]:
    """The connector's ReCORE category → Yahoo category rows for this seed (the demo's table)."""
    return [
        {"recore_category_id": recore, "recore_category_name": name, "yahoo_category_id": str(y)}
        for recore, (name, _parent, y) in RECORE_CATEGORIES.items()
        if y is not None
    ]


def _description(lines: list[str]) -> str:
    """Single-line HTML, as Yahoo wants it (no raw newlines)."""
    body = "".join(f"<p>{line}</p>" for line in lines)
    return (
        f"{body}<p>【状態】中古品のため、使用に伴う小傷等はご了承ください。</p>"
        "<p>【発送】入金確認後、2～3営業日以内に発送いたします。</p>"
        "<p>※店頭でも販売しているため、売り切れの際はキャンセルとさせていただきます。</p>"
    )


def mall_attributes(
    management_number: str,
    category_id: int,
    condition: str,
    start_price: int,
    buyout_price: int = 0,
    *,
    size_class: int = 60,
    keywords: str = "",
    jan_code: str | None = None,
    sales_channel: str = "併売",
    folder_path: str = "一般",
    **overrides: Any,
) -> dict[str, Any]:
    """Every Yahoo field staff fill in ReCORE (see `companion/domain.py` for the key list)."""
    attrs: dict[str, Any] = {
        "management_number": management_number,
        "category_id": category_id,
        "start_price": start_price,
        "buyout_price": buyout_price,
        "quantity": 1,
        "duration_days": 7,
        "end_hour": 22,
        "prefecture": "東京都",
        "city": "豊島区",
        "shipping_payer": "落札者",
        "payment_methods": ["Yahoo!かんたん決済"],
        "shipping_methods": ["ヤマト運輸（宅急便）", "日本郵便（ゆうパック）"],
        "condition": condition,
        "keywords": keywords,
        "auto_extend": True,
        "resubmit_count": 2,
        "min_rating": -5,
        "bad_rating_limit": True,
        "bidder_auth_limit": False,
        "featured_amount": 0,
        "size_class": size_class,
        "tax_rate": 10,
        "tax_included": True,
        "jan_code": jan_code,
        "brand_id": None,
        "product_category_id": None,
        "folder_path": folder_path,
        "delivery_group": 1,
        "lead_time_code": "3",
        "sales_channel": sales_channel,
        "listed_on_other_malls": [],
    }
    attrs.update(overrides)
    return attrs


# (管理番号, title, category, condition, start, buyout, photos, size, keywords, folder, notes)
_STOCK: list[tuple[str, str, int, str, int, int, int, int, str, str, list[str]]] = [
    (
        "RC-10001",
        "Canon EOS Kiss X10 ダブルズームキット ブラック ショット数約3200回",
        2084261685,
        "目立った傷や汚れなし",
        48000,
        58000,
        8,
        80,
        "キヤノン 一眼レフ",
        "カメラ",
        [
            "キヤノンのエントリー一眼レフです。",
            "付属品：バッテリー、充電器、ストラップ、取扱説明書。",
        ],
    ),
    (
        "RC-10002",
        "Nikon D750 ボディ 元箱付き シャッター回数約15000回",
        2084261685,
        "やや傷や汚れあり",
        62000,
        0,
        10,
        80,
        "ニコン フルサイズ",
        "カメラ",
        ["フルサイズ一眼レフのボディのみです。", "グリップ部にスレがあります。"],
    ),
    (
        "RC-10003",
        "FUJIFILM X100V シルバー 美品 付属品完備",
        2084261684,
        "未使用に近い",
        138000,
        158000,
        6,
        60,
        "富士フイルム X100V",
        "カメラ",
        ["人気の高級コンパクトデジタルカメラです。", "外装に目立つ傷はありません。"],
    ),
    (
        "RC-10004",
        "SONY α7 III ILCE-7M3 ボディ ミラーレス一眼",
        2084261686,
        "目立った傷や汚れなし",
        128000,
        0,
        7,
        80,
        "ソニー α7III",
        "カメラ",
        ["動作確認済みです。", "センサーにゴミの写り込みはありません。"],
    ),
    (
        "RC-10005",
        "LOUIS VUITTON モノグラム スピーディ30 M41526 ハンドバッグ",
        2084005290,
        "傷や汚れあり",
        35000,
        45000,
        9,
        80,
        "ルイヴィトン スピーディ",
        "ブランドバッグ",
        ["ヌメ革に焼けとシミがあります。", "内側に小さなペン跡があります。"],
    ),
    (
        "RC-10006",
        "COACH シグネチャー ショルダーバッグ ブラウン F29208",
        2084005291,
        "目立った傷や汚れなし",
        6800,
        9800,
        5,
        60,
        "コーチ ショルダー",
        "ブランドバッグ",
        ["使用感の少ないお品です。"],
    ),
    (
        "RC-10007",
        "PRADA テスートナイロン リュック ブラック 2VZ135",
        2084050115,
        "やや傷や汚れあり",
        42000,
        52000,
        6,
        80,
        "プラダ リュック",
        "ブランドバッグ",
        ["底面の角にスレがあります。", "ギャランティカード付き。"],
    ),
    (
        "RC-10008",
        "SEIKO プレザージュ SARX035 自動巻き メンズ腕時計",
        23828,
        "目立った傷や汚れなし",
        38000,
        45000,
        7,
        60,
        "セイコー プレザージュ",
        "時計",
        ["日差+8秒程度で稼働中です。", "ベルト余りコマ2個付き。"],
    ),
    (
        "RC-10009",
        "CASIO G-SHOCK GW-M5610U-1JF 電波ソーラー",
        2084062603,
        "未使用に近い",
        9800,
        12800,
        4,
        60,
        "カシオ Gショック",
        "時計",
        ["電波受信・ソーラー充電とも確認済みです。"],
    ),
    (
        "RC-10010",
        "TAG Heuer アクアレーサー WAY111A クォーツ 300m防水",
        2084050111,
        "やや傷や汚れあり",
        88000,
        0,
        8,
        60,
        "タグホイヤー アクアレーサー",
        "時計",
        ["電池交換済みです。", "風防に小傷があります。"],
    ),
    (
        "RC-10011",
        "Nintendo Switch 有機ELモデル ホワイト 本体 箱付き",
        2084315561,
        "目立った傷や汚れなし",
        28000,
        32000,
        6,
        80,
        "任天堂 スイッチ 有機EL",
        "ゲーム",
        ["初期化済みです。", "ジョイコンのスティック流れはありません。"],
    ),
    (
        "RC-10012",
        "PlayStation 5 CFI-1200A01 ディスクドライブ搭載モデル",
        2084315562,
        "目立った傷や汚れなし",
        48000,
        55000,
        5,
        100,
        "プレステ5 PS5",
        "ゲーム",
        ["コントローラー1個付き。", "動作確認済み、初期化済みです。"],
    ),
    (
        "RC-10013",
        "ポケットモンスター スカーレット Switch ソフト",
        2084315570,
        "目立った傷や汚れなし",
        3200,
        3980,
        2,
        60,
        "ポケモン スカーレット",
        "ゲーム",
        ["ケースと説明書付き。"],
    ),
    (
        "RC-10014",
        "ル・クルーゼ ココット・ロンド 20cm チェリーレッド 両手鍋",
        2084207680,
        "やや傷や汚れあり",
        9800,
        13800,
        5,
        80,
        "ルクルーゼ 鋳物ホーロー",
        "キッチン",
        ["内側のホーローに欠けはありません。", "外側の底に焦げ跡があります。"],
    ),
    (
        "RC-10015",
        "ストウブ ピコ・ココット ラウンド 22cm ブラック",
        2084207680,
        "未使用",
        14800,
        18800,
        4,
        80,
        "staub ストウブ 鍋",
        "キッチン",
        ["未使用品ですが箱に傷みがあります。"],
    ),
    (
        "RC-10016",
        "象印 圧力IH炊飯ジャー 極め炊き 5.5合 NW-JX10 2021年製",
        2084046826,
        "目立った傷や汚れなし",
        8800,
        11800,
        6,
        100,
        "象印 炊飯器",
        "キッチン",
        ["内釜のコーティング剥がれはありません。"],
    ),
    (
        "RC-10017",
        "バルミューダ ザ・トースター K05A-BK ブラック",
        2084046823,
        "やや傷や汚れあり",
        12000,
        15800,
        5,
        80,
        "BALMUDA トースター",
        "キッチン",
        ["給水カップ付き。", "庫内に使用感があります。"],
    ),
    (
        "RC-10018",
        "ティファール インジニオ・ネオ フライパン 9点セット",
        2084070223,
        "未使用",
        6800,
        8800,
        3,
        100,
        "T-fal フライパン セット",
        "キッチン",
        ["未開封品です。"],
    ),
]

# Listings that each break exactly one Yahoo rule (which one: `SEEDED_INVALID`).
_LONG_TITLE = (
    "【超美品】OLYMPUS OM-D E-M10 Mark IV EZダブルズームキット シルバー 元箱 付属品完備 "
    "予備バッテリー2個 SDカード32GB付き 動作確認済み 送料無料"
)
SEEDED_INVALID: dict[str, str] = {
    "RC-10019": "title_too_long",
    "RC-10020": "title_not_cp932",
    "RC-10022": "buyout_below_start",
    "RC-10023": "too_many_images",
    "RC-10024": "corrupt_image",
    "RC-10025": "sales_channel_store_only",
    # The second listing with 管理番号 RC-10008 (the first, valid one is the SEIKO watch).
    "RC-10008": "duplicate_management_number",
}
DUPLICATE_MANAGEMENT_NUMBER = "RC-10008"
# Without the Yahoo fields there is no buyout price and no 販路 to break a rule with.
SEEDED_INVALID_SPEC: dict[str, str] = {
    k: v
    for k, v in SEEDED_INVALID.items()
    if v not in ("buyout_below_start", "sales_channel_store_only")
}
# RC-10021's description holds raw newlines (pasted from a spreadsheet): the connector turns
# them into <br>, so it lists like the others.
NEWLINE_DESCRIPTION = "RC-10021"

# 出品待ち: stock bought in, not yet put on EC by staff.
_PENDING: list[tuple[str, str, int, str, int, int, int, list[str]]] = [
    (
        "RC-10031",
        "Nintendo 3DS LL ブルー×ブラック 本体 充電器付き",
        2084315561,
        "やや傷や汚れあり",
        7800,
        9800,
        4,
        ["タッチペン付き。", "ヒンジ部に緩みはありません。"],
    ),
    (
        "RC-10032",
        "ヨネックス EZONE 98 2022 テニスラケット G2",
        2084303361,
        "目立った傷や汚れなし",
        14000,
        17800,
        3,
        ["ガット張り上がり済みです。"],
    ),
    (
        "RC-10033",
        "ダイソン V8 Slim Fluffy コードレスクリーナー SV10K",
        2084046838,
        "傷や汚れあり",
        12000,
        0,
        5,
        ["バッテリーの持ちは約15分です。", "付属ツール3点。"],
    ),
]


def populate(world: World) -> None:
    """Fill an empty world with the demo stock; every listing gets a CREATE_INVENTORY task."""
    populate_catalogue(world)
    at = SEED_BASE_TIME
    for n, (mn, title, cat, cond, start, buyout, photos, size, kw, folder, notes) in enumerate(
        _STOCK
    ):
        attrs = mall_attributes(
            mn,
            cat,
            cond,
            start,
            buyout,
            size_class=size,
            keywords=kw,
            folder_path=folder,
            sales_channel="ECのみ" if n % 5 == 4 else "併売",
        )
        world.create_listing(
            title=title,
            description=_description(notes),
            mall_attributes=attrs,
            image_ids=world.add_images(mn, photos, kb=30 + (n * 7) % 40),
            at=at + n * 300,
            item=item_fields(attrs, notes),
        )
    at += len(_STOCK) * 300
    for n, spec in enumerate(_invalid_stock()):
        mn = spec["mall_attributes"]["management_number"]
        world.create_listing(
            title=spec["title"],
            description=spec["description"],
            mall_attributes=spec["mall_attributes"],
            image_ids=world.add_images(mn, spec["photos"], kb=35, corrupt=spec.get("corrupt", ())),
            at=at + n * 300,
            item=item_fields(spec["mall_attributes"], spec["notes"]),
        )
    for mn, title, cat, cond, start, buyout, photos, notes in _PENDING:
        pending_id = world.next_id("pending", start=1)
        attrs = mall_attributes(mn, cat, cond, start, buyout)
        image_ids = world.add_images(mn, photos, kb=35)
        fields = item_fields(attrs, notes)
        stock = world.add_item(
            code=mn,
            title=title,
            price=buyout or start,
            grade=fields["grade"],
            condition_note=fields["condition_note"],
            category_id=fields["category_id"],
            image_ids=image_ids,
            at=SEED_BASE_TIME - 3600,
        )
        world.pending[pending_id] = {
            "id": pending_id,
            "item_id": stock["id"],
            "title": title,
            "description": _description(notes),
            "mall_attributes": attrs,
            "image_ids": image_ids,
            "created_at": SEED_BASE_TIME - 3600,
        }


def _invalid_stock() -> list[dict[str, Any]]:
    def spec(mn: str, title: str, cat: int, start: int, buyout: int, photos: int, **kw: Any):
        notes = kw.pop("notes", ["動作確認済みです。"])
        description = kw.pop("description", None) or _description(notes)
        corrupt = kw.pop("corrupt", ())
        return {
            "title": title,
            "description": description,
            "notes": notes,
            "photos": photos,
            "corrupt": corrupt,
            "mall_attributes": mall_attributes(
                mn, cat, "目立った傷や汚れなし", start, buyout, **kw
            ),
        }

    return [
        spec("RC-10019", _LONG_TITLE, 2084261686, 42000, 49800, 6),
        spec("RC-10020", "Apple AirPods Pro 第2世代 MQD83J/A 美品🎧", 2084239067, 18000, 22000, 4),
        spec(
            "RC-10021",
            "Panasonic LUMIX DC-GX7MK3 ボディ シルバー",
            2084261686,
            36000,
            42000,
            5,
            # A raw newline, as pasted from a spreadsheet: the connector makes it <br>.
            description="<p>動作確認済みです。</p>\n<p>付属品：バッテリー、充電器。</p>",
        ),
        spec(
            "RC-10022",
            "GUCCI GGキャンバス トートバッグ ベージュ 211137",
            2084005290,
            30000,
            25000,
            5,
        ),
        spec("RC-10023", "OMEGA シーマスター アクアテラ 2502.50 自動巻き", 23828, 150000, 0, 11),
        spec(
            "RC-10024",
            "Nintendo Switch Lite ターコイズ 本体のみ",
            2084315561,
            12000,
            14800,
            4,
            corrupt=(1,),
        ),
        spec(
            "RC-10025",
            "RICOH GR III デジタルカメラ 元箱付き",
            2084261684,
            70000,
            82000,
            5,
            sales_channel="店頭のみ",
        ),
        spec(
            DUPLICATE_MANAGEMENT_NUMBER,
            "SEIKO セイコー5スポーツ SBSA001 自動巻き",
            23828,
            18000,
            22000,
            4,
        ),
    ]


# ---- bulk seeding for benchmarks ------------------------------------------------------------
_BULK_ITEMS = [
    ("Canon", "EOS 80D ボディ", 2084261685, 42000),
    ("Nikon", "Z 50 ダブルズームキット", 2084261686, 68000),
    ("COACH", "レザー トートバッグ ブラック", 2084005290, 9800),
    ("SEIKO", "アストロン GPSソーラー", 23828, 52000),
    ("CASIO", "G-SHOCK DW-5600E", 2084062603, 6800),
    ("Nintendo", "Switch Lite グレー", 2084315561, 13800),
    ("ル・クルーゼ", "シグニチャー ココット・ロンド 18cm", 2084207680, 11800),
    ("象印", "電気ケトル CK-DA10", 2084046823, 2800),
]
_BULK_CONDITIONS = ("未使用", "未使用に近い", "目立った傷や汚れなし", "やや傷や汚れあり")


def seed_more(
    world: World, count: int, *, images_per_item: int = 3, image_kb: int = 40
) -> list[int]:
    """Add `count` valid listings (with CREATE_INVENTORY tasks) fast, for benchmarks.

    Photos are only registered here; they are rendered on first download and cached."""
    ids = []
    start = world.counters.get("bulk", 0)
    for n in range(start, start + count):
        brand, name, cat, price = _BULK_ITEMS[n % len(_BULK_ITEMS)]
        mn = f"BM-{n + 1:06d}"
        notes = [f"{brand} {name}です。", "動作確認済みです。"]
        attrs = mall_attributes(
            mn,
            cat,
            _BULK_CONDITIONS[n % len(_BULK_CONDITIONS)],
            price,
            price + price // 5,
            keywords=f"{brand} 中古",
            folder_path="ベンチマーク",
        )
        listing = world.create_listing(
            title=f"{brand} {name} 中古 {mn}",
            description=_description(notes),
            mall_attributes=attrs,
            image_ids=world.add_images(mn, images_per_item, kb=image_kb),
            item=item_fields(attrs, notes),
        )
        ids.append(listing["id"])
    world.counters["bulk"] = start + count
    return ids
