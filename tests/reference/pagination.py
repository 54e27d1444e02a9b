"""DRF's page-number pagination as Mifumo configures it, and the broken paginators of the variants.

Each broken paginator is the smallest override of DRF's own class that shows one fault, so the suite's
verdict on it is a verdict on that fault alone.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import EmptyPage, Paginator
from rest_framework.pagination import LimitOffsetPagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param


class HistoryPagination(PageNumberPagination):
    """The seed page: 20 a page by default, `page_size` chosen by the client up to 100 (DRF clamps above)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class HistoryLimitOffsetPagination(LimitOffsetPagination):
    """Variant `limit-offset`: `limit`/`offset` instead of `page`/`page_size` (a common wrong setup)."""

    default_limit = 20
    max_limit = 100


class WrongCountPagination(HistoryPagination):
    """Variant `wrong-count`: `count` one more than the records there are."""

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data["count"] += 1
        return response


class NextDropsTypePagination(HistoryPagination):
    """Variant `next-drops-type`: the `next` link loses `type`, so following it leaves the filter."""

    def get_next_link(self) -> str | None:
        link = super().get_next_link()
        return None if link is None else remove_query_param(link, "type")


class EmptyPastEndPaginator(Paginator):
    """A Django paginator that lets a page past the end through (empty) instead of raising `EmptyPage`."""

    def validate_number(self, number: Any) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            if int(number) > 1:  # past the end; a page below 1 stays an error
                return int(number)
            raise


class EmptyPastEndPagination(HistoryPagination):
    """Variant `empty-past-end`: a page past the end is 200 with no results, not 404 `Invalid page.`"""

    django_paginator_class = EmptyPastEndPaginator
