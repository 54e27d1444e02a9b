"""Same seed, same answers: across runs, processes and uvicorn workers (cursors included)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from mock_server.security import DEFAULT_BEARER_TOKEN
from tests.support import mock_process

MIFUMO = {"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}"}
WEPAY = {"App-Id": "mock-app-id", "App-Token": "mock-app-token", "Api-Version": "3.0"}
PROBES = [
    ("/api/billing/history/?page_size=7&page=3&type=usage", MIFUMO),
    ("/api/billing/history/?page=2", MIFUMO),
    ("/billing_statements?page_size=9", WEPAY),
    ("/billing_statements/c4a1abf1-34ac-40e8-bdba-5649f0665421", WEPAY),
    ("/billing_statements?page_size=0", WEPAY),
]


def _bodies(url: str) -> list[bytes]:
    with httpx.Client(base_url=url, timeout=10) as client:
        # Mifumo links embed the host: ask both processes under the same Host so bodies compare.
        return [client.get(path, headers={**headers, "Host": "mock.test"}).content for path, headers in PROBES]


def test_two_processes_with_the_same_seed_answer_byte_identically() -> None:
    with mock_process("--seed", "99") as one, mock_process("--seed", "99") as two:
        first, second = one.url, two.url
        assert _bodies(first) == _bodies(second)
        cursor = httpx.get(f"{first}/billing_statements?page_size=5", headers=WEPAY).json()["next"]
        a = httpx.get(first + cursor, headers=WEPAY)
        b = httpx.get(second + cursor, headers=WEPAY)
        assert a.status_code == b.status_code == 200
        assert a.content == b.content
        assert a.headers["x-correlation-id"] != b.headers["x-correlation-id"]


def test_another_seed_gives_other_data_and_refuses_foreign_cursors() -> None:
    with mock_process("--seed", "1") as one, mock_process("--seed", "2") as two:
        first, second = one.url, two.url
        assert _bodies(first)[0] != _bodies(second)[0]
        cursor = httpx.get(f"{first}/billing_statements", headers=WEPAY).json()["next"]
        assert httpx.get(second + cursor, headers=WEPAY).status_code == 400


def test_two_workers_answer_identically_and_accept_each_others_cursors() -> None:
    with mock_process("--workers", "2", "--seed", "5") as mock:
        url = mock.url
        limits = httpx.Limits(max_keepalive_connections=0)  # a new connection per request spreads over workers
        with httpx.Client(base_url=url, limits=limits, timeout=10) as client:
            seen: dict[str, set[bytes]] = {}
            for _ in range(12):
                for path, headers in PROBES[:3]:
                    seen.setdefault(path, set()).add(client.get(path, headers={**headers, "Host": "mock.test"}).content)
            assert all(len(bodies) == 1 for bodies in seen.values())
            # Concurrent connections make the kernel hand accepts to both workers.
            with ThreadPoolExecutor(8) as pool:
                pids: set[int] = set()
                for _ in range(30):
                    pids |= set(pool.map(lambda _: client.get("/__mock/health").json()["pid"], range(16)))
                    if len(pids) == 2:
                        break
            assert len(pids) == 2, "both workers should have served"
            body = client.get("/billing_statements?page_size=3", headers=WEPAY).json()
            walked = list(body["results"])
            while body["next"]:
                response = client.get(body["next"], headers=WEPAY)
                assert response.status_code == 200
                body = response.json()
                walked += body["results"]
            assert len(walked) == len({s["id"] for s in walked}) == 120
