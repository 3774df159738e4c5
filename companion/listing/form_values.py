"""A Listing → the values the store's item form takes (direct listing), beside the CSV mapping.

The form takes the same values as the bulk-upload file, so they come from the same place: the
CSV row of `yahoo_format` (by column name), itself made from the one listing
`companion.listing.mapping` builds from ReCORE, the templates and the tables. Nothing is filled
in here: a listing that lacks a value the form needs never gets this far (it is held, 情報不足).
The scrapers receive these plain values and know (from their facts) which form field takes which
column. Only what the form has beyond the file lives here: whether the description goes in as
HTML.
"""

from __future__ import annotations

from companion.domain import Listing
from companion.listing import yahoo_format as yf

HTML_DESCRIPTION = "説明のHTML"  # not a CSV column: the form's 「HTMLタグで入力」 box


def form_values(listing: Listing, profile: yf.Profile = yf.DEFAULT_PROFILE) -> dict[str, str]:
    """CSV column → value for the item form (はい/いいえ for the yes/no boxes)."""
    values = dict(zip(profile.headers, profile.row(listing), strict=True))
    # 説明 with tags goes in as HTML (Yahoo shows it as text otherwise)
    values[HTML_DESCRIPTION] = yf.yes_no("<" in (listing.description or ""))
    return values
