"""The billing record the seed page shows, as a Django model (SQLite stores it; DRF serializes it)."""

from __future__ import annotations

import uuid

from django.db import models


class BillingRecord(models.Model):
    """One purchase, payment or usage line of an account's billing history.

    The value sets are the seed page's; `amount` is a Decimal with two places as money is in a real
    deployment, so the serializer decides how it reaches JSON (a number, as the page shows).
    """

    class Type(models.TextChoices):
        PURCHASE = "purchase"
        PAYMENT = "payment"
        USAGE = "usage"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=16, choices=Type.choices)
    description = models.CharField(max_length=255)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16)
    created_at = models.DateTimeField()

    class Meta:
        app_label = "reference"
        # The contract's order: newest first, ties by id (SQLite stores UUIDs as 32 hex digits, which sort
        # as the dashed strings do).
        ordering = ("-created_at", "id")
