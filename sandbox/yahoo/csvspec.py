"""The sandbox's own reading of the 競りナビ bulk upload (53-column CSV, optionally zipped with images).

Written independently of `companion.listing.yahoo_format` on purpose: the sandbox plays Yahoo, so it
must catch the connector's mistakes instead of sharing them. Facts come from
/work/shared/reference/yahoo-auctions.md; every rule marked ASSUMPTION is ours (docs/yahoo-sandbox.md).

`parse_upload` is pure (no world state) so the app can run it in a worker thread.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError

ENCODING = "cp932"

CONDITIONS: tuple[str, ...] = (
    "未使用",
    "未使用に近い",
    "目立った傷や汚れなし",
    "やや傷や汚れあり",
    "傷や汚れあり",
    "全体的に状態が悪い",
)
# The item form's radio values for 商品の状態, in CSV order (Yahoo's own condition codes).
CONDITION_CODES: tuple[str, ...] = ("new", "used10", "used20", "used40", "used60", "used80")

PREFECTURES: tuple[str, ...] = (
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
)  # fmt: skip  (index + 1 = JIS prefecture code, e.g. 13 = 東京都)

SHIPPING_PAYERS: tuple[str, ...] = ("落札者", "出品者")
PAYMENT_TIMINGS: tuple[str, ...] = ("代金先払い", "代金後払い")
YES_NO: tuple[str, ...] = ("はい", "いいえ")
TAX_RATES: tuple[str, ...] = ("0", "8", "10")
# ASSUMPTION: 発送までの日数 codes (the reference only says "code (e.g. 1)").
LEAD_TIMES: dict[str, str] = {
    "1": "1〜2日で発送",
    "2": "2〜3日で発送",
    "3": "3〜7日で発送",
    "4": "8〜14日で発送",
}
DELIVERY_GROUPS: tuple[str, ...] = tuple(str(n) for n in range(1, 8))

TITLE_MAX_WIDTH = 65
DESCRIPTION_MAX_CHARS = 25_000  # ASSUMPTION
MAX_IMAGES = 10
IMAGE_MAX_BYTES = 5 * 1024 * 1024
IMAGE_FORMATS: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg"),
    "GIF": (".gif",),
    "PNG": (".png",),
}
# ASSUMPTION: 管理番号 is used in image file names, so ASCII letters, digits, '.', '_', '-'.
MANAGEMENT_NUMBER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")

_IMAGE_COLUMNS: list[str] = []
for _n in range(1, MAX_IMAGES + 1):
    _IMAGE_COLUMNS += [f"画像{_n}", f"画像{_n}コメント"]

COLUMNS: tuple[str, ...] = (
    "管理番号",
    "カテゴリ",
    "タイトル",
    "説明",
    "ストア内商品検索用キーワード",
    "開始価格",
    "即決価格",
    "個数",
    "期間",
    "終了時間",
    "商品発送元の都道府県",
    "商品発送元の市区町村",
    "送料負担",
    "代金先払い、後払い",
    "商品の状態",
    *_IMAGE_COLUMNS,
    "最低評価",
    "悪評割合制限",
    "入札者認証制限",
    "自動延長",
    "商品の自動再出品",
    "自動値下げ",
    "注目のオークション",
    "重量設定",
    "消費税設定",
    "税込みフラグ",
    "JANコード・ISBNコード",
    "ブランドID",
    "商品スペックサイズ種別",
    "商品スペックサイズID",
    "商品分類ID",
    "商品保存先フォルダパス",
    "配送グループ",
    "発送までの日数",
)
assert len(COLUMNS) == 53
COLUMN_INDEX: dict[str, int] = {name: i + 1 for i, name in enumerate(COLUMNS)}  # 1-based


@dataclass(frozen=True, slots=True)
class CellError:
    """One rejected value. row/column are 1-based as staff see them (row 1 = header)."""

    row: int
    column: int | None
    column_name: str
    management_number: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {
            "row": self.row,
            "column": self.column,
            "column_name": self.column_name,
            "management_number": self.management_number,
            "message": self.message,
        }


@dataclass(slots=True)
class ImageInfo:
    name: str
    format: str
    size: int
    width: int
    height: int


@dataclass(slots=True)
class ValidRow:
    row: int
    values: dict[str, str]  # column name -> value, all 53 columns
    images: list[ImageInfo]


@dataclass(slots=True)
class UploadResult:
    """What an upload came to. `file_error` set means nothing at all was accepted."""

    file_error: str | None = None
    rows: list[ValidRow] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    row_count: int = 0


# --- widths and characters ------------------------------------------------------------------------
def title_width(text: str) -> float:
    """Full-width counts 1, half-width (East Asian Width Na/H: ASCII, ｱ) 0.5."""
    return sum(0.5 if unicodedata.east_asian_width(ch) in ("Na", "H") else 1.0 for ch in text)


def _fmt_width(w: float) -> str:
    return str(int(w)) if w == int(w) else f"{w:.1f}"


def cp932_bad_chars(text: str) -> list[str]:
    bad: list[str] = []
    for ch in dict.fromkeys(text):
        try:
            if ch.encode(ENCODING).decode(ENCODING) != ch:
                bad.append(ch)
        except UnicodeError:
            bad.append(ch)
    return bad


# --- CSV tokenizing -------------------------------------------------------------------------------
@dataclass(slots=True)
class _Record:
    line: int  # physical line where the record starts (1-based)
    fields: list[str]
    terminator: str  # "\r\n", "\n", "\r" or "" at end of file
    bad_quote: bool = False


def _records(text: str) -> list[_Record]:
    """A minimal RFC 4180 reader that also reports each record's line terminator.

    The csv module hides terminators, and we must tell CRLF from LF and a newline inside a quoted
    field (a raw newline in 説明) from a record break.
    """
    out: list[_Record] = []
    i, n, line = 0, len(text), 1
    while i < n:
        start_line = line
        fields: list[str] = []
        buf: list[str] = []
        bad_quote = False
        terminator = ""
        while True:
            if i < n and text[i] == '"' and not buf:
                # quoted field
                i += 1
                while i < n:
                    ch = text[i]
                    if ch == '"':
                        if i + 1 < n and text[i + 1] == '"':
                            buf.append('"')
                            i += 2
                            continue
                        i += 1
                        break
                    if ch == "\n":
                        line += 1
                    buf.append(ch)
                    i += 1
                else:
                    bad_quote = True  # unterminated quote
                # after a closing quote only a separator or terminator may follow
                while i < n and text[i] not in ",\r\n":
                    bad_quote = True
                    buf.append(text[i])
                    i += 1
            else:
                while i < n and text[i] not in ",\r\n":
                    buf.append(text[i])
                    i += 1
            fields.append("".join(buf))
            buf = []
            if i < n and text[i] == ",":
                i += 1
                continue
            if i >= n:
                terminator = ""
            elif text.startswith("\r\n", i):
                terminator = "\r\n"
                i += 2
            else:
                terminator = text[i]
                i += 1
            if terminator:
                line += 1
            break
        out.append(_Record(start_line, fields, terminator, bad_quote))
    return out


# --- values ---------------------------------------------------------------------------------------
def _int(value: str) -> int | None:
    """Half-width digits only (an optional leading '-'): '1,000' and '１０' are not numbers here."""
    if re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    return None


def validate_values(values: dict[str, str]) -> list[tuple[str, str]]:
    """Rules per column, shared by the CSV upload and the item form. Returns (column, message)."""
    errs: list[tuple[str, str]] = []

    def err(col: str, msg: str) -> None:
        errs.append((col, msg))

    def req(col: str) -> str | None:
        v = values.get(col, "")
        if v == "":
            err(col, f"{col}は必須です")
            return None
        return v

    for col, v in values.items():
        bad = cp932_bad_chars(v)
        if bad:
            shown = "、".join(f"「{c}」(U+{ord(c):04X})" for c in bad[:5])
            err(col, f"使用できない文字が含まれています: {shown}")

    mn = req("管理番号")
    if mn is not None and not MANAGEMENT_NUMBER_RE.match(mn):
        err("管理番号", "管理番号は半角英数字と「-」「_」「.」で64文字以内にしてください")

    cat = req("カテゴリ")
    if cat is not None and not re.fullmatch(r"[0-9]{1,10}", cat):
        err("カテゴリ", "カテゴリは半角数字のカテゴリIDで入力してください")

    title = req("タイトル")
    if title is not None:
        w = title_width(title)
        if w > TITLE_MAX_WIDTH:
            err(
                "タイトル",
                f"タイトルが65文字を超えています（全角1・半角0.5で数えて{_fmt_width(w)}文字）",
            )
        if "\r" in title or "\n" in title:
            err("タイトル", "タイトルに改行は使用できません")

    desc = req("説明")
    if desc is not None:
        if "\r" in desc or "\n" in desc:
            err("説明", "説明に改行が含まれています（改行は<br>を使用してください）")
        if len(desc) > DESCRIPTION_MAX_CHARS:
            err("説明", f"説明は{DESCRIPTION_MAX_CHARS:,}文字以内にしてください")

    start = req("開始価格")
    start_n: int | None = None
    if start is not None:
        start_n = _int(start)
        if start_n is None or start_n < 1:
            err("開始価格", "開始価格は1円以上の半角数字で入力してください")
            start_n = None
    buyout = values.get("即決価格", "")
    if buyout != "":
        b = _int(buyout)
        if b is None or b < 0:
            err("即決価格", "即決価格は半角数字で入力してください（なしの場合は0）")
        elif b != 0 and start_n is not None and b < start_n:
            err("即決価格", f"即決価格（{b:,}円）は開始価格（{start_n:,}円）以上にしてください")

    qty = req("個数")
    if qty is not None:
        q = _int(qty)
        if q is None or q < 1:
            err("個数", "個数は1以上の半角数字で入力してください")

    dur = req("期間")
    if dur is not None:
        d = _int(dur)
        if d is None or not 1 <= d <= 7:
            err("期間", "期間は1〜7日で指定してください")

    end = req("終了時間")
    if end is not None:
        h = _int(end)
        if h is None or not 0 <= h <= 23:
            err("終了時間", "終了時間は0〜23の半角数字で指定してください")

    pref = req("商品発送元の都道府県")
    if pref is not None and pref not in PREFECTURES:
        err("商品発送元の都道府県", f"都道府県名が正しくありません（{pref}）")

    payer = req("送料負担")
    if payer is not None and payer not in SHIPPING_PAYERS:
        err("送料負担", "送料負担は「落札者」または「出品者」を指定してください")

    timing = req("代金先払い、後払い")
    if timing is not None and timing not in PAYMENT_TIMINGS:
        err("代金先払い、後払い", "「代金先払い」または「代金後払い」を指定してください")

    cond = req("商品の状態")
    if cond is not None and cond not in CONDITIONS:
        err("商品の状態", "商品の状態は「" + "」「".join(CONDITIONS) + "」のいずれかです")

    for n in range(1, MAX_IMAGES + 1):
        if values.get(f"画像{n}コメント") and not values.get(f"画像{n}"):
            err(f"画像{n}コメント", f"画像{n}がないのに画像{n}コメントが入力されています")

    rating = values.get("最低評価", "")
    if rating != "" and _int(rating) is None:
        err("最低評価", "最低評価は半角数字で入力してください（例: -5）")

    for col in ("悪評割合制限", "入札者認証制限", "自動延長", "税込みフラグ"):
        v = req(col)
        if v is not None and v not in YES_NO:
            err(col, f"{col}は「はい」または「いいえ」で指定してください")

    resub = req("商品の自動再出品")
    if resub is not None:
        r = _int(resub)
        if r is None or not 0 <= r <= 3:
            err("商品の自動再出品", "商品の自動再出品は0〜3で指定してください")

    drop = values.get("自動値下げ", "")
    if drop != "":
        d = _int(drop)
        if d is None or not 0 <= d <= 99:
            err("自動値下げ", "自動値下げは空欄または値下げ率（0〜99）で指定してください")

    for col in ("注目のオークション", "重量設定"):
        v = values.get(col, "")
        if v != "":
            x = _int(v)
            if x is None or x < 0:
                err(col, f"{col}は半角数字で入力してください")

    tax = values.get("消費税設定", "")
    if tax != "" and tax not in TAX_RATES:
        err("消費税設定", "消費税設定は0、8、10のいずれかです")

    jan = values.get("JANコード・ISBNコード", "")
    if jan != "" and not re.fullmatch(r"[0-9]{8}|[0-9]{13}|[0-9]{9}[0-9X]", jan):
        err("JANコード・ISBNコード", "JANコードは8桁または13桁、ISBNは10桁または13桁です")

    for col in ("ブランドID", "商品スペックサイズ種別", "商品スペックサイズID", "商品分類ID"):
        v = values.get(col, "")
        if v != "" and not re.fullmatch(r"[0-9]+", v):
            err(col, f"{col}は半角数字で入力してください")

    grp = req("配送グループ")
    if grp is not None and grp not in DELIVERY_GROUPS:
        err("配送グループ", "配送グループは1〜7の番号で指定してください")

    lead = req("発送までの日数")
    if lead is not None and lead not in LEAD_TIMES:
        codes = "、".join(f"{k}（{v}）" for k, v in LEAD_TIMES.items())
        err(
            "発送までの日数", f"発送までの日数のコードが正しくありません。使用できるコード: {codes}"
        )
    return errs


def check_image(name: str, data: bytes) -> str | None:
    """None when `data` is a real JPEG/GIF/PNG under 5 MB whose extension matches; else why not."""
    if len(data) > IMAGE_MAX_BYTES:
        return f"画像 {name} は5MBを超えています（{len(data) / 1024 / 1024:.1f}MB）"
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format or ""
            im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return f"画像 {name} は壊れているか、画像ではありません"
    exts = IMAGE_FORMATS.get(fmt)
    if exts is None:
        return f"画像 {name} の形式（{fmt}）は使用できません（JPEG、GIF、PNGのみ）"
    if not name.lower().endswith(exts):
        return f"画像 {name} の拡張子が画像の形式（{fmt}）と合っていません"
    return None


def image_info(name: str, data: bytes) -> ImageInfo:
    with Image.open(io.BytesIO(data)) as im:
        return ImageInfo(name, im.format or "", len(data), im.width, im.height)


# --- the upload -----------------------------------------------------------------------------------
def parse_upload(filename: str, data: bytes) -> UploadResult:
    """Read an uploaded zip (CSV + flat images) or a bare CSV, and check every row and column."""
    if not filename:
        return UploadResult(file_error="ファイルが選択されていません")
    if not filename.isascii():
        return UploadResult(
            file_error="ファイル名に全角文字は使用できません（半角英数字のファイル名にしてください）"
        )
    if not data:
        return UploadResult(file_error="ファイルが空です")
    images: dict[str, bytes] = {}
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".zip"):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
            csvs = [nm for nm in names if nm.lower().endswith(".csv")]
            if len(csvs) != 1:
                return UploadResult(
                    file_error=f"zipファイルにはCSVファイルを1つだけ入れてください（{len(csvs)}個あります）"
                )
            for nm in names:
                if "/" in nm or "\\" in nm:
                    return UploadResult(
                        file_error=f"zipファイルにフォルダを含めないでください（{nm}）"
                    )
            csv_data = zf.read(csvs[0])
            for nm in names:
                if nm != csvs[0]:
                    images[nm] = zf.read(nm)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            return UploadResult(file_error=f"zipファイルを読み込めません（{type(exc).__name__}）")
    elif filename.lower().endswith(".csv"):
        csv_data = data
    else:
        return UploadResult(file_error="CSVファイルまたはzipファイルを選択してください")
    return _parse_csv(csv_data, images)


def _parse_csv(raw: bytes, images: dict[str, bytes]) -> UploadResult:
    if raw.startswith(b"\xef\xbb\xbf"):
        return UploadResult(
            file_error="文字コードがShift_JIS（cp932）ではありません（UTF-8のBOMがあります）"
        )
    try:
        text = raw.decode(ENCODING)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return UploadResult(
            file_error=f"文字コードがShift_JIS（cp932）ではありません（{line}行目に読めない文字があります）"
        )
    records = _records(text)
    if not records:
        return UploadResult(file_error="ファイルが空です")
    header = records[0]
    if header.terminator not in ("\r\n", ""):
        return UploadResult(file_error="改行コードがCRLFではありません（1行目）")
    if header.fields != list(COLUMNS):
        if len(header.fields) != len(COLUMNS):
            return UploadResult(
                file_error=f"1行目（見出し行）の列数が{len(header.fields)}列です（{len(COLUMNS)}列必要です）"
            )
        for i, (got, want) in enumerate(zip(header.fields, COLUMNS, strict=True), start=1):
            if got != want:
                return UploadResult(
                    file_error=f"1行目（見出し行）の{i}列目は「{want}」であるべきところ「{got}」です"
                )
    result = UploadResult()
    # images per 管理番号 prefix, for the 10-image rule (our naming assumption: <管理番号>_<n>.<ext>)
    by_prefix: dict[str, int] = {}
    for nm in images:
        m = re.fullmatch(r"(.+)_([0-9]+)\.[A-Za-z]+", nm)
        if m:
            by_prefix[m.group(1)] = by_prefix.get(m.group(1), 0) + 1
    checked: dict[str, str | None] = {}

    for index, rec in enumerate(records[1:], start=2):
        if rec.fields == [""] and rec.terminator in ("", "\r\n"):
            continue  # blank line (e.g. the final CRLF)
        result.row_count += 1
        row = index  # the spreadsheet row: header = 1, a quoted newline does not add a row
        mn = rec.fields[0] if rec.fields else ""
        row_errs: list[CellError] = []

        def add(
            col: str | None,
            msg: str,
            _row: int = row,
            _mn: str = mn,
            _errs: list[CellError] = row_errs,
        ) -> None:
            _errs.append(
                CellError(_row, COLUMN_INDEX.get(col) if col else None, col or "", _mn, msg)
            )

        if rec.terminator not in ("\r\n", ""):
            add(None, "改行コードがCRLFではありません")
        if rec.bad_quote:
            add(None, "ダブルクォートの使い方が正しくありません")
        if len(rec.fields) != len(COLUMNS):
            add(None, f"列数が{len(rec.fields)}列です（{len(COLUMNS)}列必要です）")
            result.errors.extend(row_errs)
            continue
        values = dict(zip(COLUMNS, rec.fields, strict=True))
        for col, msg in validate_values(values):
            add(col, msg)
        row_images: list[ImageInfo] = []
        for n in range(1, MAX_IMAGES + 1):
            ref = values[f"画像{n}"]
            if not ref:
                continue
            if ref not in images:
                add(f"画像{n}", f"画像ファイル {ref} がzipファイルにありません")
                continue
            if ref not in checked:
                checked[ref] = check_image(ref, images[ref])
            problem = checked[ref]
            if problem:
                add(f"画像{n}", problem)
            else:
                row_images.append(image_info(ref, images[ref]))
        if mn and by_prefix.get(mn, 0) > MAX_IMAGES:
            add(
                "画像10",
                f"画像は10枚までです（zipに管理番号 {mn} の画像が{by_prefix[mn]}枚あります）",
            )
        if row_errs:
            result.errors.extend(row_errs)
        else:
            result.rows.append(ValidRow(row, values, row_images))
    if result.row_count == 0:
        result.file_error = "データ行がありません"
    return result
