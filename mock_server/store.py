"""The dataset arranged for serving: sorted once, indexed by every filter, records pre-encoded.

A request then only slices a list and joins pre-encoded JSON, so its cost does not depend on how
many records there are or how deep the page is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson

from fixtures import Dataset
from fixtures.history import GeneratedHistory


def compact_json(value: Any) -> bytes:
    """orjson's bytes keep its ~4 KiB working buffer allocated; a held blob is copied to its own size."""
    return bytes(memoryview(orjson.dumps(value)))


class EncodedView:
    """Records at some positions of an ordered history, encoded when a page first asks for them."""

    def __init__(self, positions: Sequence[int], encode: Callable[[int], bytes]) -> None:
        self.positions = positions
        self.encode = encode

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, window: slice) -> list[bytes]:
        return [self.encode(position) for position in self.positions[window]]


class HistoryStore:
    """Mifumo billing records: `created_at` descending, ties by `id` ascending; views per `type`.

    Generated histories arrive in order with their per-type positions (see fixtures.history), and are
    encoded lazily; loaded files are sorted and encoded once here.
    """

    def __init__(self, records: Sequence[dict[str, Any]], types: Sequence[str]) -> None:
        self.views: dict[str | None, Sequence[bytes]] = {}
        if isinstance(records, GeneratedHistory):
            encode = functools.lru_cache(maxsize=16384)(lambda position: compact_json(records.record(position)))
            for kind in (None, *types):
                self.views[kind] = EncodedView(records.positions(kind), encode)
            return
        ordered = sorted(records, key=lambda r: (-datetime.fromisoformat(r["created_at"]).timestamp(), r["id"]))
        self.views[None] = [compact_json(r) for r in ordered]
        for kind in types:
            self.views[kind] = [blob for blob, r in zip(self.views[None], ordered, strict=True) if r["type"] == kind]

    def view(self, kind: str | None) -> Sequence[bytes]:
        return self.views.get(kind, [])


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
            encoded = {v: compact_json({**statement, "api_version": v}) for v in self.versions}
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
