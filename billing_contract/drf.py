"""How Django REST Framework's `PageNumberPagination` reads a request's page number and page size: the
contract's rule for Mifumo (the API runs on DRF, and the spec defers to it where the reference page is
silent). The mock serves pages by it and the rules judge a backend's pages by it: one implementation."""

from __future__ import annotations

import math

# DRF's PageNumberPagination.last_page_strings: a `page` naming the last page.
LAST_PAGE_STRINGS = ("last",)


def page_count(total: int, page_size: int) -> int:
    """Django's `Paginator.num_pages` (an empty collection still has its first page)."""
    return max(1, math.ceil(total / page_size))


def drf_page_size(raw: int | str | None, default: int, maximum: int) -> int:
    """`PageNumberPagination.get_page_size` (`_positive_int`, strict, cut off at `max_page_size`): what
    Python's `int()` reads, if above 0, at most `maximum`; anything else (absent, empty, 0, negative, not an
    integer) is the default."""
    try:
        size = int(raw) if raw is not None else default
    except (TypeError, ValueError):
        return default
    return default if size <= 0 else min(size, maximum)


def drf_page_number(raw: int | str | None, last: int) -> int | None:
    """`PageNumberPagination.get_page_number`, then Django's `Paginator.validate_number`: empty is page 1,
    `last` the last page, else what Python's `int()` reads; None when it reads nothing ("Invalid page.").
    A number outside 1..last is returned as read: the caller answers it as past the end."""
    if raw is None or raw == "":
        return 1
    if raw in LAST_PAGE_STRINGS:
        return last
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None
