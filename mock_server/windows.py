"""Page windows: both APIs' pages reduce to a `Window` (offset, limit) over an already sorted, already
filtered sequence, so a page costs O(page size) whatever the dataset size or depth. Mifumo's page
numbers and absolute links (DRF's) are worked out here; WePay's cursors are `mock_server.cursors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from billing_contract.drf import page_count


@dataclass(frozen=True)
class Window:
    offset: int
    limit: int
    total: int

    @property
    def end(self) -> int:
        return min(self.offset + self.limit, self.total)

    @property
    def has_next(self) -> bool:
        return self.end < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


# -- page numbers (Mifumo, DRF PageNumberPagination) --------------------------------------------


def page_number_window(page: int, page_size: int, total: int) -> Window | None:
    """The window of a 1-based page, or None when the page is past the last (DRF: "Invalid page.")."""
    if page < 1 or page > page_count(total, page_size):
        return None
    return Window((page - 1) * page_size, page_size, total)


# A query whose every piece is `name=value` in characters urlencode() leaves alone: decoding and
# re-encoding it would give each piece back unchanged, so it is split instead (the common case).
_PLAIN_QUERY = re.compile(r"[\w.~-]+=[\w.~-]*(?:&[\w.~-]+=[\w.~-]*)*", re.ASCII)


def page_link(base_url: str, raw_query: str, page_param: str, page: int) -> str:
    """DRF's link: every other query parameter kept (sorted, as DRF's urlencode does); page 1 drops the page."""
    plain = _PLAIN_QUERY.fullmatch(raw_query) is not None
    pairs = [piece.split("=", 1) for piece in raw_query.split("&")] if plain else parse_qsl(raw_query, True)
    params = [(k, v) for k, v in pairs if k != page_param]
    if page > 1:
        params.append((page_param, str(page)))
    params.sort(key=lambda item: item[0])
    query = "&".join(f"{k}={v}" for k, v in params) if plain else urlencode(params)
    return f"{base_url}?{query}" if query else base_url
