"""The validating proxy (`billing-mock proxy`), over real sockets: the mock as its upstream (a full walk,
no violation, answers as the upstream gave them), broken upstreams flagged on the rule one exchange
shows, failing upstreams answered 502/504 in each API's body, no open proxy, concurrency, recording."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from billing_contract import MIFUMO, WEPAY
from fixtures import DatasetSize, load_dataset
from mock_server import MockConfig, create_app
from mock_server.proxy import ProxyApp, ProxyConfig, create_proxy_app
from mock_server.proxy.app import UVICORN_OPTIONS
from mock_server.testing import free_port, serve_in_thread
from tests.broken.asgi import Broken, Reply, Request
from tests.broken.impls import BROKEN
from tests.support import MOCK_CREDENTIALS, raw_exchange

SMALL = DatasetSize(records=45, statements=23, accounts=3)
MIFUMO_HEADERS = {"Authorization": f"Bearer {MOCK_CREDENTIALS.bearer_token}"}
WEPAY_HEADERS = {"App-Id": MOCK_CREDENTIALS.app_id, "App-Token": MOCK_CREDENTIALS.app_token, "Api-Version": "3.0"}
HISTORY = "/api/billing/history/"
STATEMENTS = "/billing_statements"


@dataclass
class Tap:
    """What the upstream received and answered, in order."""

    exchanges: list[tuple[Request, Reply]]

    async def __call__(self, request: Request, call: Any) -> Reply:
        reply = await call(request)
        self.exchanges.append((request, reply))
        return reply


@dataclass
class Running:
    url: str
    app: ProxyApp
    upstream_url: str


@contextlib.contextmanager
def running_proxy(upstream_app: Any, apis: tuple[str, ...] = (MIFUMO, WEPAY), **config: Any) -> Iterator[Running]:
    with serve_in_thread(upstream_app) as upstream_url:
        proxy = create_proxy_app(
            ProxyConfig(upstreams={api: upstream_url for api in apis}, mock=MockConfig(size=SMALL), **config)
        )
        with serve_in_thread(proxy, **UVICORN_OPTIONS) as url:
            yield Running(url, proxy, upstream_url)
        proxy.write_outputs()


def walk(client: httpx.Client, first: str, headers: dict[str, str], base: str = "") -> list[httpx.Response]:
    """Follow `next` to the end; Mifumo links are absolute, WePay's relative to `base`."""
    pages = [client.get(first, headers=headers)]
    while pages[-1].status_code == 200 and pages[-1].json()["next"]:
        link = pages[-1].json()["next"]
        pages.append(client.get(link if link.startswith("http") else base + link, headers=headers))
        assert len(pages) < 100
    return pages


def error_requests() -> list[tuple[str, dict[str, str]]]:
    return [
        (HISTORY, {}),  # 401, no credentials
        (HISTORY, {"Authorization": "Bearer not-the-token"}),  # 401, token not valid
        (f"{HISTORY}?type=refund", MIFUMO_HEADERS),  # 400 (a page size over 100 is cut off, as DRF does)
        (f"{HISTORY}?page=999", MIFUMO_HEADERS),  # 404 Invalid page.
        (STATEMENTS, {"Api-Version": "3.0"}),  # 403
        (f"{STATEMENTS}?page_size=501", WEPAY_HEADERS),  # 400
        (f"{STATEMENTS}/no-such-statement", WEPAY_HEADERS),  # 404
    ]


def test_the_mock_as_upstream_full_walk_no_violation_and_answers_as_the_upstream_gave_them() -> None:
    tap = Tap([])
    upstream = Broken(create_app(MockConfig(size=SMALL)), tap)
    with running_proxy(upstream) as proxy, httpx.Client(base_url=proxy.url, timeout=10) as client:
        history = walk(client, f"{proxy.url}{HISTORY}?page_size=10", MIFUMO_HEADERS)
        statements = walk(client, f"{STATEMENTS}?page_size=5", WEPAY_HEADERS, proxy.url)
        one = client.get(f"{STATEMENTS}/{statements[0].json()['results'][0]['id']}", headers=WEPAY_HEADERS)
        errors = [client.get(path, headers=headers) for path, headers in error_requests()]
        violations = client.get("/__mock/violations").json()

    assert len(history) == 5 and len(statements) == 5 and one.status_code == 200
    assert sum(len(p.json()["results"]) for p in history) == SMALL.records
    assert [e.status_code for e in errors] == [401, 401, 400, 404, 403, 400, 404]
    # The upstream broke nothing; the client's own deliberate mistakes are flagged as the request's.
    assert [v for v in violations if v["side"] == "response"] == []
    flagged = {(v["path"], v["query"], v["rule"]) for v in violations}
    assert flagged == {
        (HISTORY, "", "request-credentials"),
        (HISTORY, "type=refund", "request-parameters"),
        (STATEMENTS, "", "request-credentials"),
        (STATEMENTS, "page_size=501", "request-parameters"),
    }
    for response in [*history, *statements, one]:
        assert "x-contract-violations" not in response.headers
    assert [e.headers.get("x-contract-violations") for e in errors] == ["1", None, "1", None, "1", "1", None]
    answers = [*history, *statements, one, *errors]
    assert len(tap.exchanges) == len(answers)  # one upstream request per client request, in order
    for response, (received, upstream) in zip(answers, tap.exchanges, strict=True):
        assert (received.path, received.raw_query) == (response.request.url.path, response.request.url.query)
        assert response.status_code == upstream.status
        expected = upstream.body.replace(proxy.upstream_url.encode(), proxy.url.encode())
        assert response.content == expected  # byte for byte, but for Mifumo links that named the upstream
        for name, value in upstream.headers:
            if name.lower() not in ("content-length", "date", "server"):
                assert response.headers.get_list(name) == [value] or value in response.headers.get_list(name), name
    # Links were rewritten to the proxy, so a client following them stays behind it.
    assert history[0].json()["next"].startswith(proxy.url + HISTORY)


# Broken implementations whose violation one exchange shows: the request that shows it, and the rule.
SHOWN_IN_ONE_EXCHANGE = {
    "count_is_a_string": (HISTORY, MIFUMO_HEADERS, "schema"),
    "relative_links": (HISTORY, MIFUMO_HEADERS, "mifumo-links"),
    "drf_envelope_on_wepay": (f"{STATEMENTS}?page_size=0", WEPAY_HEADERS, "schema"),
    "no_correlation_id_on_errors": (f"{STATEMENTS}?page_size=0", WEPAY_HEADERS, "wepay-correlation-id"),
    "api_version_not_echoed": (STATEMENTS, {**WEPAY_HEADERS, "Api-Version": "3.1"}, "wepay-api-version"),
}


@pytest.mark.parametrize("name", sorted(SHOWN_IN_ONE_EXCHANGE))
def test_each_broken_upstream_is_flagged_on_its_rule(name: str) -> None:
    impl = next(b for b in BROKEN if b.name == name)
    path, headers, rule = SHOWN_IN_ONE_EXCHANGE[name]
    upstream = Broken(create_app(MockConfig(size=SMALL)), impl.handler)
    with running_proxy(upstream) as proxy, httpx.Client(base_url=proxy.url, timeout=10) as client:
        response = client.get(path, headers=headers)
        violations = client.get("/__mock/violations").json()
    assert int(response.headers["x-contract-violations"]) == len(violations) >= 1
    answer = [v for v in violations if v["side"] == "response"]
    assert rule in {v["rule"] for v in answer}, violations
    assert all(v["status"] == response.status_code for v in violations)
    assert {"time", "method", "path", "query", "status", "side", "rule", "message"} <= set(violations[0])


def test_strict_mode_answers_502_in_the_apis_own_body_naming_the_violations() -> None:
    impl = next(b for b in BROKEN if b.name == "api_version_not_echoed")
    upstream = Broken(create_app(MockConfig(size=SMALL)), impl.handler)
    with running_proxy(upstream, strict=True) as proxy:
        response = httpx.get(f"{proxy.url}{STATEMENTS}", headers={**WEPAY_HEADERS, "Api-Version": "3.2"})
    assert response.status_code == 502
    body = response.json()
    assert body["error_code"] == "UNEXPECTED_ERROR" and "wepay-api-version" in body["error_message"]
    assert response.headers["x-contract-violations"] == "1"


def test_request_violations_are_flagged_and_secrets_never_shown(tmp_path: Path) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    upstream = create_app(MockConfig(size=SMALL))
    with running_proxy(upstream, report_path=report, junit_path=junit) as proxy:
        wrong = {**WEPAY_HEADERS, "Api-Version": "9.9"}
        bad = httpx.get(f"{proxy.url}{STATEMENTS}?page_size=900", headers=wrong)
        missing = httpx.get(f"{proxy.url}{STATEMENTS}", headers={"App-Token": MOCK_CREDENTIALS.app_token})
        listed = httpx.get(f"{proxy.url}/__mock/violations").text
    assert bad.status_code == 400 and missing.status_code == 403
    violations = json.loads(listed)
    rules = {(v["side"], v["rule"]) for v in violations}
    assert ("request", "request-parameters") in rules and ("request", "request-credentials") in rules
    assert {v["side"] for v in violations} == {"request"}  # the upstream answered both correctly
    for text in (listed, report.read_text()):
        assert MOCK_CREDENTIALS.app_token not in text and MOCK_CREDENTIALS.bearer_token not in text
    assert json.loads(report.read_text()) == violations
    cases = {(c.get("classname"), c.get("name")): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert cases[("proxy.listBillingStatements", "request-parameters")].find("failure") is not None
    assert cases[("proxy.listBillingStatements", "schema")].find("failure") is None


def test_an_api_without_upstream_is_served_by_the_mock() -> None:
    canary = Canary()
    with canary.serving() as canary_url:
        proxy = create_proxy_app(ProxyConfig(upstreams={WEPAY: canary_url}, mock=MockConfig(size=SMALL)))
        with serve_in_thread(proxy) as url:
            history = httpx.get(f"{url}{HISTORY}", headers=MIFUMO_HEADERS)
    assert history.status_code == 200 and history.json()["count"] == SMALL.records
    assert canary.hits == 0


class Canary:
    """A server that only counts what reaches it: the proxy must never contact it unless configured."""

    def __init__(self) -> None:
        self.hits = 0

    async def endpoint(self, request: Any) -> Response:
        self.hits += 1
        return Response("canary", 200)

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        methods = ["GET", "POST", "HEAD"]
        app = Starlette(routes=[Route("/{path:path}", self.endpoint, methods=methods)])
        with serve_in_thread(app) as url:
            yield url


def test_never_an_open_proxy_absolute_targets_and_foreign_hosts_reach_only_the_upstream() -> None:
    canary = Canary()
    upstream_tap = Tap([])
    with (
        canary.serving() as canary_url,
        running_proxy(Broken(create_app(MockConfig(size=SMALL)), upstream_tap)) as proxy,
    ):
        canary_host = canary_url.removeprefix("http://")
        token = MOCK_CREDENTIALS.bearer_token
        for target, host in (
            (f"{canary_url}{HISTORY}", canary_host),  # absolute-form target naming another server
            (HISTORY, canary_host),  # origin-form, Host naming another server
            (f"{canary_url}/anything", canary_host),
        ):
            answer = raw_exchange(
                proxy.url,
                f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                "Connection: close\r\n\r\n".encode(),
            )
            assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    assert canary.hits == 0
    # The two contract requests reached the configured upstream; "/anything" is no API's: the mock answered.
    assert [request.path for request, _ in upstream_tap.exchanges] == [HISTORY, HISTORY]


def test_unreachable_upstream_is_502_in_each_apis_own_body() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    proxy = create_proxy_app(ProxyConfig(upstreams={MIFUMO: dead, WEPAY: dead}, mock=MockConfig(size=SMALL)))
    with serve_in_thread(proxy) as url:
        mifumo = httpx.get(f"{url}{HISTORY}", headers=MIFUMO_HEADERS)
        wepay = httpx.get(f"{url}{STATEMENTS}", headers=WEPAY_HEADERS)
    assert mifumo.status_code == 502 and set(mifumo.json()) == {"detail"}
    assert "could not be reached" in mifumo.json()["detail"] and "Error" not in mifumo.json()["detail"]
    assert wepay.status_code == 502 and wepay.json()["error_code"] == "UNEXPECTED_ERROR"
    assert wepay.json()["details"] == []


def test_slow_upstream_is_504_after_the_upstream_timeout() -> None:
    async def slow(request: Any) -> Response:
        import asyncio

        await asyncio.sleep(3)
        return Response("{}", 200)

    app = Starlette(routes=[Route("/{path:path}", slow)])
    with running_proxy(app, upstream_timeout=0.5) as proxy:
        mifumo = httpx.get(f"{proxy.url}{HISTORY}", headers=MIFUMO_HEADERS, timeout=10)
        wepay = httpx.get(f"{proxy.url}{STATEMENTS}", headers=WEPAY_HEADERS, timeout=10)
    assert mifumo.status_code == 504 and "0.5 s" in mifumo.json()["detail"]
    assert wepay.status_code == 504 and wepay.json()["error_code"] == "UNEXPECTED_ERROR"


def test_huge_and_malformed_upstream_answers_are_502() -> None:
    async def huge(request: Any) -> Response:
        return Response(b"x" * 300_000, 200, media_type="application/json")

    app = Starlette(routes=[Route("/{path:path}", huge)])
    with running_proxy(app, max_body=100_000) as proxy:
        big = httpx.get(f"{proxy.url}{STATEMENTS}", headers=WEPAY_HEADERS)
    assert big.status_code == 502 and "exceeds 100000 bytes" in big.json()["error_message"]

    garbage = socket.socket()
    garbage.bind(("127.0.0.1", 0))
    garbage.listen(8)

    def answer_garbage() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = garbage.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(b"NOT HTTP AT ALL\r\n\r\n{")

    threading.Thread(target=answer_garbage, daemon=True).start()
    url = f"http://127.0.0.1:{garbage.getsockname()[1]}"
    proxy = create_proxy_app(ProxyConfig(upstreams={MIFUMO: url}, mock=MockConfig(size=SMALL)))
    try:
        with serve_in_thread(proxy) as proxy_url:
            broken = httpx.get(f"{proxy_url}{HISTORY}", headers=MIFUMO_HEADERS)
    finally:
        garbage.close()
    assert broken.status_code == 502 and "not valid HTTP" in broken.json()["detail"]


def test_32_concurrent_clients_each_get_their_own_answer() -> None:
    upstream = create_app(MockConfig(size=replace(SMALL, records=320)))
    with (
        running_proxy(upstream) as proxy,
        serve_in_thread(create_app(MockConfig(size=replace(SMALL, records=320)))) as direct,
    ):

        def fetch(page: int) -> tuple[int, list[str], list[str]]:
            query = f"{HISTORY}?page={page}&page_size=10"
            via = httpx.get(f"{proxy.url}{query}", headers=MIFUMO_HEADERS, timeout=30)
            expected = httpx.get(f"{direct}{query}", headers=MIFUMO_HEADERS, timeout=30)
            return page, [r["id"] for r in via.json()["results"]], [r["id"] for r in expected.json()["results"]]

        with ThreadPoolExecutor(max_workers=32) as pool:
            results = list(pool.map(fetch, [p for _ in range(3) for p in range(1, 33)]))
        violations = httpx.get(f"{proxy.url}/__mock/violations").json()
    assert len(results) == 96
    for _page, via, expected in results:
        assert via == expected and len(via) == 10
    assert violations == []


def test_recording_loads_as_fixtures_and_the_mock_serves_exactly_those_records(tmp_path: Path) -> None:
    recording = tmp_path / "recorded.yaml"
    upstream = create_app(MockConfig(size=SMALL))
    with running_proxy(upstream, record_path=recording) as proxy, httpx.Client(timeout=10) as client:
        walk(client, f"{proxy.url}{HISTORY}?page_size=20", MIFUMO_HEADERS)
        walk(client, f"{proxy.url}{STATEMENTS}?page_size=7", WEPAY_HEADERS, proxy.url)
        flushed = client.post(f"{proxy.url}/__mock/record/flush").json()
    assert flushed["records"] == SMALL.records and flushed["statements"] == SMALL.statements
    assert flushed["left_out"] == []
    recorded = load_dataset(recording)
    source = upstream.state.data.dataset
    assert {r["id"] for r in recorded.records} == {r["id"] for r in source.records}
    assert {s["id"] for s in recorded.statements} == {s["id"] for s in source.statements}
    replayed = create_app(MockConfig(fixtures_path=recording))
    with serve_in_thread(upstream) as original, serve_in_thread(replayed) as url, httpx.Client(timeout=10) as client:
        for query in ("?page_size=20", "?page_size=7&type=usage", "?page=2&page_size=5&type=payment"):
            served = walk(client, f"{url}{HISTORY}{query}", MIFUMO_HEADERS)
            expected = walk(client, f"{original}{HISTORY}{query}", MIFUMO_HEADERS)
            assert [p.json()["results"] for p in served] == [p.json()["results"] for p in expected]
            assert [p.json()["count"] for p in served] == [p.json()["count"] for p in expected]
        statements = walk(client, f"{url}{STATEMENTS}?page_size=4", WEPAY_HEADERS, url)
        assert sum(len(p.json()["results"]) for p in statements) == SMALL.statements


def test_records_that_break_the_schema_are_left_out_and_reported(tmp_path: Path) -> None:
    recording = tmp_path / "recorded.json"

    async def bad_currency(request: Request, call: Any) -> Reply:
        reply = await call(request)
        body = reply.json()
        if request.path == STATEMENTS and reply.status == 200:
            body["results"][0]["currency"] = "usd"
            return reply.with_json(body)
        return reply

    upstream = Broken(create_app(MockConfig(size=SMALL)), bad_currency)
    with running_proxy(upstream, record_path=recording) as proxy:
        page = httpx.get(f"{proxy.url}{STATEMENTS}?page_size=5", headers=WEPAY_HEADERS).json()
        flushed = httpx.post(f"{proxy.url}/__mock/record/flush").json()
    assert flushed["statements"] == 4 and len(flushed["left_out"]) == 1
    assert page["results"][0]["id"] in flushed["left_out"][0] and "currency" in flushed["left_out"][0]
    assert len(load_dataset(recording).statements) == 4


def test_cli_sigterm_under_load_flushes_a_complete_recording(tmp_path: Path) -> None:
    """`billing-mock proxy` as users start it: SIGTERM while 8 clients page through WePay; the process
    exits 0 and its recording holds every statement any client received."""
    recording, report = tmp_path / "recorded.json", tmp_path / "violations.json"
    with serve_in_thread(create_app(MockConfig(size=SMALL))) as upstream:
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mock_server.cli",
                "proxy",
                "--wepay-upstream",
                upstream,
                "--port",
                str(port),
                "--record",
                str(recording),
                "--report",
                str(report),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        _wait_for(url, process)
        seen: set[str] = set()
        stop = threading.Event()

        def client(offset: int) -> None:
            with httpx.Client(timeout=10) as http:
                while not stop.is_set():
                    try:
                        page = http.get(f"{url}{STATEMENTS}?page_size={1 + offset}", headers=WEPAY_HEADERS)
                    except httpx.TransportError:
                        return  # the proxy is shutting down
                    if page.status_code == 200:
                        seen.update(s["id"] for s in page.json()["results"])

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    assert process.returncode == 0, err[-2000:]
    assert seen and seen <= {s["id"] for s in load_dataset(recording).statements}
    assert json.loads(report.read_text()) == []
    assert "billing-mock proxy on" in out and MOCK_CREDENTIALS.app_token not in out + err


def _wait_for(url: str, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/__mock/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError("the proxy did not start")


def test_cli_usage_errors_are_one_line() -> None:
    for argv, said in (
        (["proxy"], "give at least one upstream"),
        (["proxy", "--wepay-upstream", "ftp://x"], "must start with http"),
        (["proxy", "--wepay-upstream", "http://x", "--upstream-timeout", "0"], "must be positive"),
    ):
        done = subprocess.run([sys.executable, "-m", "mock_server.cli", *argv], capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and said in done.stderr, done.stderr


def test_tooling_routes_are_guarded_by_the_admin_token(tmp_path: Path) -> None:
    upstream = create_app(MockConfig(size=SMALL))
    mock = MockConfig(size=SMALL, admin_token="s3cret-admin")
    with serve_in_thread(upstream) as upstream_url:
        config = ProxyConfig(upstreams={WEPAY: upstream_url}, mock=mock, record_path=tmp_path / "r.json")
        with serve_in_thread(create_proxy_app(config), **UVICORN_OPTIONS) as url:
            refused = [httpx.get(f"{url}/__mock/violations"), httpx.post(f"{url}/__mock/record/flush")]
            admin = {"Authorization": "Bearer s3cret-admin"}
            allowed = [httpx.get(f"{url}/__mock/violations", headers=admin)]
            allowed.append(httpx.post(f"{url}/__mock/record/flush", headers=admin))
            health = httpx.get(f"{url}/__mock/health")
    assert [r.status_code for r in refused] == [401, 401] and "detail" in refused[0].json()
    assert [r.status_code for r in allowed] == [200, 200] and health.status_code == 200
