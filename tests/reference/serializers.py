"""The record as the seed page renders it, and the query serializer of one of the two type-filter setups."""

from __future__ import annotations

from rest_framework import serializers

from tests.reference.models import BillingRecord


class BillingRecordSerializer(serializers.ModelSerializer):
    """The seed page's seven fields; `amount` is a JSON number (`50.00` on the page), not DRF's default string."""

    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)

    class Meta:
        model = BillingRecord
        fields = ("id", "type", "description", "amount", "currency", "status", "created_at")


class HistoryQuerySerializer(serializers.Serializer):
    """`?type=` validated the DRF-only way (no django-filter): a bad value is a field error, 400."""

    type = serializers.ChoiceField(choices=BillingRecord.Type.choices, required=False)
