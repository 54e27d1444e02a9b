"""The compiled path (mock_server.compiled) and connexion's stock path give the same answers.

Two mocks over real sockets, one with the compiled path and one without, get the same generated
requests: valid, invalid, missing and repeated parameters, unknown ones, every credential mistake,
`Api-Version` and `Prefer` variants, real and forged cursors. Status, headers and body must be equal
(but for the per-answer `X-Correlation-Id`, `Date` and `Server`). Replay is off in both (a zero
latency control), so every answer is decided afresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures import DatasetSize
from mock_server import MockConfig
from mock_server.controls import ControlSettings
from mock_server.testing import RunningMock, running_mock
from tests.support import MOCK_CREDENTIALS

SIZE = DatasetSize(records=60, statements=30, accounts=3)
NO_REPLAY = ControlSettings(latency_ms=(0, 0))
IGNORED = {"date", "server", "x-correlation-id"}


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[RunningMock, RunningMock, dict[str, str]]]:
    with (
        running_mock(MockConfig(size=SIZE, controls=NO_REPLAY)) as compiled,
        running_mock(MockConfig(size=SIZE, controls=NO_REPLAY, compiled_path=False)) as stock,
    ):
        first = httpx.get(f"{stock.url}/billing_statements?page_size=4", headers=compiled.wepay_headers).json()
        samples = {
            "cursor": first["next"].split("page=", 1)[1],
            "statement": first["results"][0]["id"],
            "account": first["results"][0]["owner"]["id"] if first["results"][0]["owner"] else "acct",
        }
        yield compiled, stock, samples


TOKEN = MOCK_CREDENTIALS.bearer_token
MIFUMO_AUTH = st.sampled_from(
    [
        {"Authorization": f"Bearer {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}"},
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"bearer {TOKEN}"},
        {"Authorization": f"Token {TOKEN}"},
        {"Authorization": f"Bearer  {TOKEN}"},
        {"Authorization": "Bearer"},
    ]
)
WEPAY_AUTH = st.sampled_from(
    [
        {"App-Id": MOCK_CREDENTIALS.app_id, "App-Token": MOCK_CREDENTIALS.app_token},
        {"App-Id": MOCK_CREDENTIALS.app_id, "App-Token": MOCK_CREDENTIALS.app_token},
        {"App-Id": MOCK_CREDENTIALS.app_id},
        {"App-Token": MOCK_CREDENTIALS.app_token},
        {"App-Id": "x", "App-Token": MOCK_CREDENTIALS.app_token},
        {},
    ]
)
VERSION = st.sampled_from([{"Api-Version": "3.0"}, {"Api-Version": "3.1"}, {"Api-Version": "3.2"},
                           {"Api-Version": "9.9"}, {}, {"Api-Version": "3.0", "Unique-Key": "k-1"},
                           {"Api-Version": "3.0", "Unique-Key": ""}])  # fmt: skip
PREFER = st.sampled_from([{}, {}, {}, {"Prefer": "code=404"}, {"Prefer": "example=seedPage"}, {"Prefer": "bogus"}])
NUMBER = st.one_of(
    st.integers(-2, 600).map(str),
    st.sampled_from(["", "abc", "1.5", "007", "%31", "+3", "9" * 30, " 5", "5_0", "\u0663", "1e3", "-0"]),
)
WORD = st.one_of(
    st.sampled_from(["usage", "payment", "purchase", "refund", "USD", "CAD", "usd", ""]), st.text(max_size=6)
)


def _pairs(names: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[list[tuple[str, str]]]:
    one = st.sampled_from(sorted(names)).flatmap(lambda name: names[name].map(lambda value: (name, value)))
    return st.lists(one, max_size=4)


def _query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k)}={v if v.startswith('%') else quote(v)}" for k, v in pairs)


@st.composite
def requests(draw: st.DrawFn, samples: dict[str, str]) -> tuple[str, str, dict[str, str]]:
    which = draw(st.sampled_from(["history", "list", "statement"]))
    method = draw(st.sampled_from(["GET"] * 8 + ["HEAD", "POST"]))
    if which == "history":
        names = {"page": NUMBER, "page_size": NUMBER, "type": WORD, "other": WORD, "page[size]": NUMBER}
        pairs = draw(_pairs(names))
        headers = draw(MIFUMO_AUTH)
        path = draw(st.sampled_from(["/api/billing/history/"] * 5 + ["/api/billing/history"]))
    else:
        cursor = st.sampled_from([samples["cursor"], samples["cursor"][:-2] + "xx", "abc"])
        account = st.sampled_from([samples["account"], "", "nobody"])
        names = {"page": cursor, "page_size": NUMBER, "currency": WORD, "account_id": account, "other": WORD}
        pairs = draw(_pairs(names))
        headers = {**draw(WEPAY_AUTH), **draw(VERSION)}
        ident = draw(st.sampled_from([samples["statement"], "missing-id", "x" * 300, "%20"]))
        path = "/billing_statements" if which == "list" else f"/billing_statements/{ident}"
    return method, f"{path}?{_query(pairs)}" if pairs else path, {**headers, **draw(PREFER)}


def _answer(response: httpx.Response, url: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body, the mock's own address (in Mifumo's links) written as `BASE`."""
    headers = sorted((k, v) for k, v in response.headers.multi_items() if k not in IGNORED)
    return response.status_code, headers, response.content.replace(url.encode(), b"BASE")


def test_compiled_and_stock_paths_answer_alike(pair: tuple[RunningMock, RunningMock, dict[str, str]]) -> None:
    compiled, stock, samples = pair

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(request=requests(samples))
    def check(request: tuple[str, str, dict[str, str]]) -> None:
        method, target, headers = request
        got = httpx.request(method, f"{compiled.url}{target}", headers=headers, timeout=10)
        expected = httpx.request(method, f"{stock.url}{target}", headers=headers, timeout=10)
        assert _answer(got, compiled.url) == _answer(expected, stock.url), (method, target, headers)

    check()


def test_the_compiled_path_answers_the_valid_requests(pair: tuple[RunningMock, RunningMock, dict[str, str]]) -> None:
    """The corpus above would pass if the compiled path never answered: it answers every valid request,
    and none that connexion must refuse."""
    compiled, stock, samples = pair
    plans = compiled.app.compiled_plans
    assert set(plans) == {"getBillingHistory", "describeBillingHistory", "listBillingStatements", "getBillingStatement"}
    assert stock.app.compiled_plans == {}
    before = {op: plan.answered for op, plan in plans.items()}
    valid = [
        ("/api/billing/history/?page=2&page_size=7&type=usage&other=1", compiled.mifumo_headers),
        (f"/billing_statements?page={samples['cursor']}", compiled.wepay_headers),
        (f"/billing_statements/{samples['statement']}", compiled.wepay_headers),
    ]
    invalid = [
        ("/api/billing/history/?type=refund", compiled.mifumo_headers),
        ("/api/billing/history/?page=999", compiled.mifumo_headers),
        ("/billing_statements", {**compiled.wepay_headers, "App-Token": "wrong"}),
        ("/billing_statements/missing-id", compiled.wepay_headers),
    ]
    for target, headers in valid + invalid:
        httpx.get(f"{compiled.url}{target}", headers=headers)
    assert {op: plan.answered - before[op] for op, plan in plans.items()} == {
        "getBillingHistory": 1,
        "describeBillingHistory": 0,
        "listBillingStatements": 1,
        "getBillingStatement": 1,
    }
