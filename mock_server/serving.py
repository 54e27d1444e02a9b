"""What the mock serves, owned in one place: the dataset (arranged for serving) and the cursor codec
keyed by it. Handlers read them here at request time; the tooling API changes them only here.

With several workers, a change is also published to the others (mock_server.shared_state) and taken
from them before each request; `generation` counts changes, so answers remembered for replay from an
older dataset are never served again.
"""

from __future__ import annotations

from typing import Any

from billing_contract.facts import LIST_STATEMENTS
from billing_contract.spec import Spec
from fixtures import Dataset, DatasetSize, generate_dataset, load_dataset
from fixtures.dataset import parse_document
from mock_server.config import MockConfig
from mock_server.cursors import CursorCodec
from mock_server.shared_state import SharedDataset
from mock_server.store import ServingData


def build_dataset(config: MockConfig, spec: Spec) -> Dataset:
    if config.fixtures_path is not None:
        return load_dataset(config.fixtures_path, spec)
    return generate_dataset(config.seed, config.size, spec)


def serving_data(dataset: Dataset, spec: Spec) -> ServingData:
    """The dataset indexed by the contract's filters; enums and versions read from the spec."""
    currency = next(p for p in spec.parameters(LIST_STATEMENTS) if p["in"] == "query" and p["name"] == "currency")
    return ServingData(
        dataset,
        types=spec.schema("BillingRecordType")["enum"],
        versions=list(spec.facts.api_versions),
        currencies=currency["schema"]["enum"],
    )


class ServingState:
    def __init__(self, spec: Spec, dataset: Dataset, shared: SharedDataset | None = None) -> None:
        self.spec = spec
        self.shared = shared
        self.generation = 0
        self._install(dataset)

    def _install(self, dataset: Dataset) -> None:
        self.data = serving_data(dataset, self.spec)
        self.codec = CursorCodec.for_dataset(dataset.seed, self.data.fingerprint)
        self.generation += 1

    @property
    def dataset(self) -> Dataset:
        return self.data.dataset

    def swap(self, dataset: Dataset) -> None:
        """Serve another dataset from the next request on; cursors of the old one stop being accepted."""
        self._install(dataset)

    def load_document(self, document: Any, source: str) -> None:
        """A dataset in the fixtures format, checked against the contract (FixturesError if it breaks it)."""
        self.swap(parse_document(document, source, self.spec))
        if self.shared is not None:  # every worker serves it from its next request on
            self.shared.publish_document(document)

    def regenerate(self, seed: int, size: DatasetSize) -> None:
        self.swap(generate_dataset(seed, size, self.spec))
        if self.shared is not None:
            self.shared.publish_generated(seed, size)

    def sync(self) -> None:
        """Take the dataset another worker published since this one last looked (one stat when none)."""
        if self.shared is not None:
            published = self.shared.changed(self.spec)
            if published is not None:
                self.swap(published)

    def summary(self) -> dict[str, Any]:
        dataset = self.data.dataset
        owners = {s["owner"]["id"] if s["owner"] else None for s in dataset.statements}
        return {
            "seed": dataset.seed,
            "source": dataset.source,
            "fingerprint": self.data.fingerprint,
            "mifumo": {"records": len(dataset.records)},
            "wepay": {"statements": len(dataset.statements), "accounts": len(owners)},
        }
