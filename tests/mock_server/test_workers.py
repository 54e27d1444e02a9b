"""Workers that agree: with `--workers 2`, an admin change made through one worker is what every worker
serves once the call has returned, and the request log lists every worker's requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from fixtures import DatasetSize, generate_dataset
from mock_server import cli
from mock_server.testing import free_port
from tests.support import MOCK_CREDENTIALS, mock_process

MIFUMO = {"Authorization": f"Bearer {MOCK_CREDENTIALS.bearer_token}"}
WEPAY = {"App-Id": MOCK_CREDENTIALS.app_id, "App-Token": MOCK_CREDENTIALS.app_token, "Api-Version": "3.0"}
NEW_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)  # each request a new connection: any worker


def _counts(url: str, n: int) -> tuple[list[tuple[int, int]], set[int]]:
    """`n` contract requests over new connections, 8 at a time, with health checks between them (whose
    pids show which workers were serving): each answer's (records or statements) count."""

    def one(i: int) -> tuple[int, int, int]:
        with httpx.Client(base_url=url, limits=NEW_CONNECTIONS, timeout=10) as client:
            pid = client.get("/__mock/health").json()["pid"]
            if i % 2:
                page = client.get("/api/billing/history/", headers=MIFUMO)
                return page.status_code, page.json()["count"], pid
            page = client.get("/billing_statements?page_size=50", headers=WEPAY)
            return page.status_code, len(page.json()["results"]), pid

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(n)))
    return [(status, count) for status, count, _ in results], {pid for *_, pid in results}


def test_admin_changes_reach_every_worker_and_the_log_lists_every_request() -> None:
    with mock_process("--workers", "2") as mock:
        url = mock.url
        loaded = generate_dataset(3, DatasetSize(records=5, statements=4, accounts=2)).to_document()
        assert httpx.put(f"{url}/__mock/dataset", json=loaded, timeout=30).status_code == 200
        assert httpx.delete(f"{url}/__mock/requests").status_code == 204
        counts, pids = _counts(url, 200)
        assert len(pids) == 2, "both workers should have served"
        assert sorted(set(counts)) == [(200, 4), (200, 5)]  # every answer from the loaded dataset
        log = httpx.get(f"{url}/__mock/requests").json()["requests"]
        assert len(log) == 200 and {entry["status"] for entry in log} == {200}

        reset = httpx.post(f"{url}/__mock/dataset/reset", json={"seed": 9, "records": 7, "statements": 3})
        assert reset.status_code == 200
        counts, pids = _counts(url, 60)
        assert sorted(set(counts)) == [(200, 3), (200, 7)] and len(pids) == 2
        summaries = {httpx.get(f"{url}/__mock/dataset").json()["fingerprint"] for _ in range(20)}
        assert len(summaries) == 1  # every worker reports the same dataset
        assert len(httpx.get(f"{url}/__mock/requests").json()["requests"]) == 260
        assert httpx.delete(f"{url}/__mock/requests").status_code == 204
        assert httpx.get(f"{url}/__mock/requests").json()["requests"] == []


def test_workers_without_a_writable_temp_folder_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A read-only container with no writable temp folder: mkdtemp fails (as root, every candidate
    # folder is writable here, so the failure is injected where the mock creates the folder).
    def no_folder() -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli, "create_state_dir", no_folder)
    assert cli.main(["--workers", "2", "--port", str(free_port())]) == 2
    captured = capsys.readouterr()
    assert captured.err == "billing-mock: error: --workers 2: cannot create a state folder: Permission denied\n"
    assert "billing-mock on" not in captured.out
