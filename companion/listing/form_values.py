"""A Listing → the values the store's item form takes (direct listing), beside the CSV mapping.

The form takes the same values as the bulk-upload file, so they come from the same place: the
CSV row of `yahoo_format` (by column name). The scrapers receive these plain values and know
(from their facts) which form field takes which column. Only what the file and the form do
differently lives here: where the CSV may stay blank, the form keeps a choice, so blanks take the
form's usual value; and whether the description goes in as HTML.
"""

from __future__ import annotations

from companion.domain import Listing
from companion.listing import yahoo_format as yf

# What the form gets for a column the listing leaves blank (the form's own preselected values).
FORM_DEFAULTS: dict[str, str] = {
    "個数": "1",
    "期間": "7",
    "終了時間": "22",
    "商品の自動再出品": "0",
    "配送グループ": "1",
    "発送までの日数": "1",
    "消費税設定": "10",
}
HTML_DESCRIPTION = "説明のHTML"  # not a CSV column: the form's 「HTMLタグで入力」 box


def form_values(listing: Listing, profile: yf.Profile = yf.DEFAULT_PROFILE) -> dict[str, str]:
    """CSV column → value for the item form (はい/いいえ for the yes/no boxes)."""
    values = dict(zip(profile.headers, profile.row(listing), strict=True))
    for column, default in FORM_DEFAULTS.items():
        if not values.get(column):
            values[column] = default
    # 説明 with tags goes in as HTML (Yahoo shows it as text otherwise)
    values[HTML_DESCRIPTION] = yf.yes_no("<" in (listing.description or ""))
    return values
