"""The dataset arranged for serving: sorted once, indexed by every filter, records pre-encoded.

A request then only slices a list and joins pre-encoded JSON, so its cost does not depend on how
many records there are or how deep the page is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson

from fixtures import Dataset


class HistoryStore:
    """Mifumo billing records: `created_at` descending, ties by `id` ascending; views per `type`."""

    def __init__(self, records: Iterable[dict[str, Any]], types: Sequence[str]) -> None:
        ordered = sorted(records, key=lambda r: (-datetime.fromisoformat(r["created_at"]).timestamp(), r["id"]))
        self.encoded: dict[str | None, list[bytes]] = {None: [orjson.dumps(r) for r in ordered]}
        for kind in types:
            self.encoded[kind] = [
                blob for blob, r in zip(self.encoded[None], ordered, strict=True) if r["type"] == kind
            ]

    def view(self, kind: str | None) -> list[bytes]:
        return self.encoded.get(kind, [])


class StatementStore:
    """WePay statements: `create_time` descending, ties by `id` ascending; views per owner and currency.

    `api_version` echoes the request, so each statement is pre-encoded once per supported version.
    """

    def __init__(
        self, statements: Iterable[dict[str, Any]], versions: Sequence[str], currencies: Sequence[str]
    ) -> None:
        ordered = sorted(statements, key=lambda s: (-s["create_time"], s["id"]))
        self.versions = tuple(versions)
        self.by_id: dict[str, dict[str, bytes]] = {}
        self._views: dict[tuple[str | None, str], list[dict[str, bytes]]] = {}
        for statement in ordered:
            encoded = {v: orjson.dumps({**statement, "api_version": v}) for v in self.versions}
            self.by_id[statement["id"]] = encoded
            owner = statement["owner"]["id"] if statement["owner"] else None
            for account in {None, owner} if owner else {None}:
                for currency in currencies:
                    if statement["currency"] == currency:
                        self._views.setdefault((account, currency), []).append(encoded)

    def view(self, account_id: str | None, currency: str) -> list[dict[str, bytes]]:
        return self._views.get((account_id, currency), [])


class ServingData:
    """Both stores for one dataset, plus what identifies it."""

    def __init__(self, dataset: Dataset, types: Sequence[str], versions: Sequence[str], currencies: Sequence[str]):
        self.dataset = dataset
        self.history = HistoryStore(dataset.records, types)
        self.statements = StatementStore(dataset.statements, versions, currencies)
        self.fingerprint = dataset.fingerprint()
