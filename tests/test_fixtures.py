"""The dataset: seeded generation, the file format, and the clear error for a bad file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from billing_contract.spec import Spec
from fixtures import EPOCH, DatasetSize, FixturesError, dump_dataset, generate_dataset, load_dataset


def test_default_dataset_shape(spec: Spec) -> None:
    data = generate_dataset()
    assert 240 <= len(data.records) <= 260
    assert {r["type"] for r in data.records} == set(spec.schema("BillingRecordType")["enum"])
    assert {r["status"] for r in data.records} == set(spec.schema("BillingRecordStatus")["enum"])
    assert len({r["currency"] for r in data.records}) >= 3
    times = [datetime.fromisoformat(r["created_at"]) for r in data.records]
    assert all(EPOCH - timedelta(days=549) <= t < EPOCH for t in times)
    assert 110 <= len(data.statements) <= 130
    owners = {s["owner"]["id"] if s["owner"] else None for s in data.statements}
    assert len(owners) == 6 and None in owners


def test_seed_page_records_are_included_verbatim(spec: Spec) -> None:
    data = generate_dataset()
    for record in spec.example("getBillingHistory", 200, "seedPage")["results"]:
        assert record in data.records
    for statement in spec.example("listBillingStatements", 200, "seedPage")["results"]:
        assert statement in data.statements


def test_same_seed_same_bytes_other_seed_other_data() -> None:
    first, again, other = generate_dataset(7), generate_dataset(7), generate_dataset(8)
    assert json.dumps(first.to_document()) == json.dumps(again.to_document())
    assert first.fingerprint() == again.fingerprint() != other.fingerprint()


def test_generation_does_not_depend_on_today(monkeypatch: pytest.MonkeyPatch) -> None:
    import fixtures.history as history

    before = json.dumps(generate_dataset(3).to_document())

    class FrozenLater(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return datetime(2031, 1, 1, tzinfo=tz)

    monkeypatch.setattr(history, "datetime", FrozenLater)
    assert json.dumps(generate_dataset(3).to_document()) == before


@pytest.mark.parametrize("size", [DatasetSize(0, 0, 1), DatasetSize(1, 1, 1), DatasetSize(5000, 2000, 3)])
def test_sizes_are_flags(size: DatasetSize) -> None:
    data = generate_dataset(1, size)
    assert (len(data.records), len(data.statements)) == (size.records, size.statements)
    assert all(s["create_time"] >= 0 and 1 <= s["month"] <= 12 for s in data.statements)
    keys = {(s["owner"]["id"] if s["owner"] else None, s["year"], s["month"]) for s in data.statements}
    assert len(keys) == len(data.statements), "one statement per owner per month"


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_dump_then_load_round_trips(tmp_path: Path, fmt: str) -> None:
    data = generate_dataset(11, DatasetSize(40, 30, 4))
    path = tmp_path / f"data.{fmt}"
    with path.open("w", encoding="utf-8") as stream:
        dump_dataset(data, stream, fmt)
    loaded = load_dataset(path)
    assert list(loaded.records) == list(data.records)
    assert loaded.statements == data.statements
    assert loaded.to_document() == data.to_document()


def _document() -> dict:
    buffer = io.StringIO()
    dump_dataset(generate_dataset(5, DatasetSize(4, 3, 2)), buffer)
    return json.loads(buffer.getvalue())


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["mifumo"]["records"][2].update(amount="12"), "mifumo.records[2].amount"),
        (lambda d: d["mifumo"]["records"][1].pop("status"), "mifumo.records[1]"),
        (lambda d: d["mifumo"]["records"][0].update(created_at="2025-01-01T00:00:00+03:00"), "created_at"),
        (lambda d: d["wepay"]["statements"][1].update(month=13), "wepay.statements[1].month"),
        (lambda d: d["wepay"]["statements"][0].update(path="/elsewhere/1"), "wepay.statements[0].path"),
        (lambda d: d["wepay"]["statements"].append(dict(d["wepay"]["statements"][0])), "duplicate id"),
        (lambda d: d.update(extra={}), "unknown top-level key"),
    ],
)
def test_bad_file_names_file_record_and_field(tmp_path: Path, mutate, expected: str) -> None:
    document = _document()
    mutate(document)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(FixturesError) as error:
        load_dataset(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_cli_reports_a_bad_file_in_one_line_with_exit_2(tmp_path: Path) -> None:
    document = _document()
    document["mifumo"]["records"][3]["type"] = "refund"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "--fixtures", str(path), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert str(path) in lines[0] and "mifumo.records[3].type" in lines[0]
    assert "record id" in lines[0]


def test_fixtures_dump_command_writes_the_loadable_format(tmp_path: Path) -> None:
    out = tmp_path / "dump.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mock_server.cli",
            "fixtures",
            "dump",
            "--seed",
            "4",
            "--records",
            "12",
            "--statements",
            "6",
            "--format",
            "yaml",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    loaded = load_dataset(out)
    assert loaded.to_document() == generate_dataset(4, DatasetSize(12, 6)).to_document()
