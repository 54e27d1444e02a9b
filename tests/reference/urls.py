"""The one route: `api/billing/history/` with its slash (a request without it is CommonMiddleware's 301)."""

from __future__ import annotations

from django.urls import path

from tests.reference.views import BillingHistoryView

urlpatterns = [path("api/billing/history/", BillingHistoryView.as_view(), name="billing-history")]
