"""The `type` filter as django-filter declares it (the other setup validates a query serializer in the view)."""

from __future__ import annotations

import django_filters

from tests.reference.models import BillingRecord


class BillingRecordFilter(django_filters.FilterSet):
    """`?type=purchase|payment|usage` through `DjangoFilterBackend`, which answers 400 for another value."""

    type = django_filters.ChoiceFilter(choices=BillingRecord.Type.choices)

    class Meta:
        model = BillingRecord
        fields = ("type",)
