"""Recording: every distinct Mifumo record and WePay statement seen in successful answers, written as
a fixtures file (the format `billing-mock --fixtures` loads and `billing-mock fixtures dump` writes).

Items are kept by id, the latest answer winning. At flush, items that break the contract's schemas
(or the fixtures' own rules) are left out and reported, so the file always loads.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billing_contract.profiles import PROFILES
from billing_contract.spec import Spec
from fixtures import Dataset, dump_dataset
from fixtures.dataset import servable


@dataclass(frozen=True)
class Flushed:
    path: str
    records: int
    statements: int
    left_out: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "records": self.records, "statements": self.statements, "left_out": self.left_out}


class Recorder:
    def __init__(self, path: Path, spec: Spec) -> None:
        self.path = path
        self.spec = spec
        # Each API's items by id, under its section's items key ("records", "statements"): the profiles say
        # which operations list them (`collection`) and which answer one (`item`).
        self.seen: dict[str, dict[str, Any]] = {profile.items: {} for profile in PROFILES.values()}

    def observe(self, operation_id: str, status: int, body: Any) -> None:
        """Take the items of a successful answer of one of the contract's operations."""
        if status != 200 or not isinstance(body, dict):
            return
        for profile in PROFILES.values():
            if operation_id == profile.collection:
                self._take(self.seen[profile.items], body.get("results"))
            elif operation_id == profile.item:
                self._take(self.seen[profile.items], [body])

    @staticmethod
    def _take(into: dict[str, Any], items: Any) -> None:
        for item in items if isinstance(items, list) else []:
            key = item.get("id") if isinstance(item, dict) else None
            if isinstance(key, str):
                into[key] = item

    def flush(self) -> Flushed:
        """Write the recording (atomically: a reader never sees half a file); report what was left out."""
        kept: dict[str, tuple[Any, ...]] = {}
        left_out: list[str] = []
        for profile in PROFILES.values():
            items, bad = servable(profile.api, list(self.seen[profile.items].values()), self.spec)
            kept[profile.items], left_out = tuple(items), [*left_out, *bad]
        dataset = Dataset(**kept, source="recorded")
        fmt = "yaml" if self.path.suffix.lower() in (".yaml", ".yml") else "json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                dump_dataset(dataset, stream, fmt)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return Flushed(str(self.path), len(dataset.records), len(dataset.statements), left_out)
