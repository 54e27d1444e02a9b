"""The billing-history view: DRF's `ListAPIView`, configured once per process from the reference's settings.

`REFERENCE_TYPE_FILTER` picks how `?type=` is validated (django-filter's `FilterSet` or a DRF query
serializer); `REFERENCE_VARIANT` swaps in one broken piece for the suite to catch. Everything else is DRF's.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.generics import ListAPIView
from rest_framework.pagination import BasePagination
from rest_framework.permissions import AllowAny

from tests.reference.filters import BillingRecordFilter
from tests.reference.models import BillingRecord
from tests.reference.pagination import (
    EmptyPastEndPagination,
    HistoryLimitOffsetPagination,
    HistoryPagination,
    NextDropsTypePagination,
    WrongCountPagination,
)
from tests.reference.serializers import BillingRecordSerializer, HistoryQuerySerializer

VARIANT: str | None = settings.REFERENCE_VARIANT
TYPE_FILTER: str = settings.REFERENCE_TYPE_FILTER
# `type-ignored` takes the filter out entirely, in either setup: `type` is neither checked nor applied.
FILTERING = VARIANT != "type-ignored"

PAGINATORS: dict[str | None, type[BasePagination]] = {
    "limit-offset": HistoryLimitOffsetPagination,
    "wrong-count": WrongCountPagination,
    "next-drops-type": NextDropsTypePagination,
    "empty-past-end": EmptyPastEndPagination,
}


# The docstring below is not for developers: DRF shows a view's docstring as the endpoint's description in
# its OPTIONS answer (and the browsable API), so it is the seed page's own sentence, as the service says it.
class BillingHistoryView(ListAPIView):
    """Get billing history including purchases, payments, and usage."""

    queryset = BillingRecord.objects.order_by("-created_at", "id")
    serializer_class = BillingRecordSerializer
    pagination_class = PAGINATORS.get(VARIANT, HistoryPagination)
    filter_backends = [DjangoFilterBackend] if FILTERING and TYPE_FILTER == "filterset" else []
    filterset_class = BillingRecordFilter
    if VARIANT == "no-auth":
        authentication_classes = []
        permission_classes = [AllowAny]

    def filter_queryset(self, queryset: QuerySet[BillingRecord]) -> QuerySet[BillingRecord]:
        """The filter backends (django-filter's setup), or the query serializer validated here (the other)."""
        queryset = super().filter_queryset(queryset)
        if FILTERING and TYPE_FILTER == "serializer":
            query = HistoryQuerySerializer(data=self.request.query_params)
            query.is_valid(raise_exception=True)
            if "type" in query.validated_data:
                queryset = queryset.filter(type=query.validated_data["type"])
        return queryset
