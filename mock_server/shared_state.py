"""State that every worker of one `billing-mock --workers N` shares: the dataset and the request log.

uvicorn's workers are separate processes; an admin call reaches only the one that takes it. The parent
creates a state folder (`BILLING_MOCK_STATE_DIR`, removed when it exits) that the workers share:

* `dataset.json`: the dataset in force, written by the worker that took an admin change (atomically:
  written aside, then renamed over). Before each request every worker compares the file's identity
  (inode and modification time, one `stat`) with the one it serves and loads it when it changed, so
  once an admin call has returned, every worker answers from the new dataset.
* `requests.jsonl`: the request log, one JSON line per request, appended by every worker (`O_APPEND`:
  each line lands whole); `GET /__mock/requests` reads them all, `DELETE` empties the file.

With one worker nothing is shared: the dataset and the log live in the process.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from billing_contract.spec import Spec
from fixtures import Dataset, DatasetSize, generate_dataset
from fixtures.dataset import parse_document

STATE_DIR_VARIABLE = "BILLING_MOCK_STATE_DIR"
DATASET_FILE = "dataset.json"
REQUESTS_FILE = "requests.jsonl"


def create_state_dir() -> Path:
    """A fresh folder for one multi-worker mock (the parent exports it to its workers)."""
    return Path(tempfile.mkdtemp(prefix="billing-mock-state-"))


class SharedDataset:
    """The dataset in force, as a file every worker watches."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / DATASET_FILE
        self._seen: tuple[int, int] | None = None

    def _identity(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def publish_generated(self, seed: int, size: DatasetSize) -> None:
        self._write({"generated": {"seed": seed, "records": size.records, "statements": size.statements,
                                   "accounts": size.accounts}})  # fmt: skip

    def publish_document(self, document: Any) -> None:
        self._write({"document": document})

    def _write(self, content: dict[str, Any]) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".dataset.", suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            stream.write(orjson.dumps(content))
        os.replace(temporary, self.path)
        self._seen = self._identity()  # the publisher already serves it

    def changed(self, spec: Spec) -> Dataset | None:
        """The dataset another worker published since this one last looked, or None."""
        identity = self._identity()
        if identity is None or identity == self._seen:
            return None
        self._seen = identity
        content = json.loads(self.path.read_bytes())
        if "generated" in content:
            options = content["generated"]
            size = DatasetSize(options["records"], options["statements"], options["accounts"])
            return generate_dataset(options["seed"], size, spec)
        return parse_document(content["document"], "PUT /__mock/dataset", spec)


class FileEntries:
    """The request log as lines in a file all workers append to; reads keep the newest `size`."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        self.path.touch()

    def append(self, entry: dict[str, Any]) -> None:
        line = orjson.dumps(entry) + b"\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        newest: deque[bytes] = deque(maxlen=self.size)
        with self.path.open("rb") as stream:
            newest.extend(line for line in stream if line.endswith(b"\n"))
        return (orjson.loads(line) for line in newest)

    def clear(self) -> None:
        os.truncate(self.path, 0)


def shared_state_dir() -> Path | None:
    """The state folder this worker shares with its siblings, when there are any."""
    value = os.environ.get(STATE_DIR_VARIABLE)
    return Path(value) if value else None
