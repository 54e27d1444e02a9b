"""WePay GET /billing_statements and /billing_statements/{id}: every row of the contract, in process and
over a real socket."""

from __future__ import annotations

import uuid

import httpx
import pytest

LIST = "/billing_statements"


def _walk(api: httpx.Client, headers: dict[str, str], **params: object) -> list[dict]:
    body = api.get(LIST, params=params, headers=headers).json()
    items = list(body["results"])
    while body["next"]:
        body = api.get(body["next"], headers=headers).json()
        items += body["results"]
    return items


def _assert_v3(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    uuid.UUID(response.headers["x-correlation-id"])
    body = response.json()
    assert set(body) == {"error_code", "error_message", "details"}
    assert body["error_code"] == code
    return body


@pytest.mark.parametrize(
    "drop",
    [("App-Id",), ("App-Token",), ("App-Id", "App-Token")],
    ids=["no-app-id", "no-app-token", "neither"],
)
def test_missing_credentials_are_not_authorized(api: httpx.Client, wepay_auth: dict[str, str], drop: tuple) -> None:
    headers = {k: v for k, v in wepay_auth.items() if k not in drop}
    body = _assert_v3(api.get(LIST, headers=headers), 403, "NOT_AUTHORIZED")
    assert body["details"][0]["target_type"] == "HTTP_REQUEST_HEADER"


@pytest.mark.parametrize("header", ["App-Id", "App-Token"])
@pytest.mark.parametrize("value", ["wrong", "", "mock-app-tokens", "MOCK-APP-ID"])
def test_wrong_credentials_are_not_authorized(
    api: httpx.Client, wepay_auth: dict[str, str], header: str, value: str
) -> None:
    _assert_v3(api.get(LIST, headers={**wepay_auth, header: value}), 403, "NOT_AUTHORIZED")
    _assert_v3(api.get(f"{LIST}/anything", headers={**wepay_auth, header: value}), 403, "NOT_AUTHORIZED")


def test_credentials_are_checked_before_headers_and_query(api: httpx.Client) -> None:
    response = api.get(LIST, params={"page_size": 0}, headers={"App-Id": "x"})
    _assert_v3(response, 403, "NOT_AUTHORIZED")


@pytest.mark.parametrize("version", [None, "2.0", "3", "", "3.00"])
def test_api_version_is_required_and_enumerated(api: httpx.Client, wepay_auth: dict[str, str], version) -> None:
    headers = {k: v for k, v in wepay_auth.items() if k != "Api-Version"}
    if version is not None:
        headers["Api-Version"] = version
    body = _assert_v3(api.get(LIST, params={"page_size": 0}, headers=headers), 400, "INVALID_PARAMS")
    # headers are checked before the query string: only the header is reported
    assert [d["target"] for d in body["details"]] == [["Api-Version"]]
    assert body["details"][0]["target_type"] == "HTTP_REQUEST_HEADER"


@pytest.mark.parametrize(("key", "ok"), [("k", True), ("x" * 255, True), ("", False), ("x" * 256, False)])
def test_unique_key_length(api: httpx.Client, wepay_auth: dict[str, str], key: str, ok: bool) -> None:
    response = api.get(LIST, headers={**wepay_auth, "Unique-Key": key})
    if ok:
        assert response.status_code == 200
    else:
        body = _assert_v3(response, 400, "INVALID_PARAMS")
        assert body["details"][0]["target"] == ["Unique-Key"]


@pytest.mark.parametrize(
    ("params", "targets"),
    [
        ({"page_size": 0}, [["page_size"]]),
        ({"page_size": 501}, [["page_size"]]),
        ({"page_size": "ten"}, [["page_size"]]),
        ({"currency": "EUR"}, [["currency"]]),
        ({"account_id": ""}, [["account_id"]]),
        ({"account_id": "a" * 256}, [["account_id"]]),
        ({"page_size": 0, "currency": "usd"}, [["page_size"], ["currency"]]),
    ],
)
def test_bad_query_parameters(api: httpx.Client, wepay_auth: dict[str, str], params: dict, targets: list) -> None:
    body = _assert_v3(api.get(LIST, params=params, headers=wepay_auth), 400, "INVALID_PARAMS")
    assert [d["target"] for d in body["details"]] == targets
    assert {d["target_type"] for d in body["details"]} == {"HTTP_REQUEST_QUERY_STRING"}


def test_first_page_defaults(api: httpx.Client, wepay_auth: dict[str, str]) -> None:
    response = api.get(LIST, headers=wepay_auth)
    assert response.status_code == 200
    uuid.UUID(response.headers["x-correlation-id"])
    body = response.json()
    assert len(body["results"]) == 10
    assert body["previous"] is None
    assert body["next"].startswith("/billing_statements?page=")
    assert body["api_version"] == "3.0"


def test_correlation_ids_are_fresh(api: httpx.Client, wepay_auth: dict[str, str]) -> None:
    ids = {api.get(LIST, headers=wepay_auth).headers["x-correlation-id"] for _ in range(5)}
    assert len(ids) == 5


def test_walk_covers_every_statement_once_in_order_and_previous_retraces(
    api: httpx.Client, wepay_auth: dict[str, str]
) -> None:
    pages, body = [], api.get(LIST, params={"page_size": 7}, headers=wepay_auth).json()
    pages.append(body)
    while body["next"]:
        body = api.get(body["next"], headers=wepay_auth).json()
        pages.append(body)
    items = [s for page in pages for s in page["results"]]
    assert len(items) == 120 == len({s["id"] for s in items})
    keys = [(-s["create_time"], s["id"]) for s in items]
    assert keys == sorted(keys)
    assert all(len(p["results"]) == 7 for p in pages[:-1]) and 0 < len(pages[-1]["results"]) <= 7
    back = [pages[-1]["results"]]
    body = pages[-1]
    while body["previous"]:
        body = api.get(body["previous"], headers=wepay_auth).json()
        back.append(body["results"])
    assert back[::-1] == [p["results"] for p in pages]


def test_statement_values(api: httpx.Client, wepay_auth: dict[str, str], spec) -> None:
    items = _walk(api, {**wepay_auth, "Api-Version": "3.2"}, page_size=500)
    owners = {s["owner"]["id"] if s["owner"] else None for s in items}
    assert len(owners) == 6 and None in owners
    for statement in items:
        assert statement["path"] == f"/billing_statements/{statement['id']}"
        assert statement["owner"] is None or statement["owner"]["path"] == f"/accounts/{statement['owner']['id']}"
        assert statement["api_version"] == "3.2"
        assert statement["currency"] == "USD"
    seeded = spec.example("listBillingStatements", 200, "seedPage")["results"]
    served = {s["id"]: s for s in _walk(api, wepay_auth, page_size=500)}
    for statement in seeded:
        assert served[statement["id"]] == statement


def test_account_and_currency_filters(api: httpx.Client, wepay_auth: dict[str, str]) -> None:
    everything = _walk(api, wepay_auth, page_size=500)
    account = next(s["owner"]["id"] for s in everything if s["owner"])
    mine = _walk(api, wepay_auth, account_id=account, page_size=3)
    assert mine and all(s["owner"] and s["owner"]["id"] == account for s in mine)
    assert len(mine) == sum(1 for s in everything if s["owner"] and s["owner"]["id"] == account)
    assert _walk(api, wepay_auth, currency="CAD") == []
    assert _walk(api, wepay_auth, account_id="no-such-account") == []
    assert len(_walk(api, wepay_auth, currency="USD", page_size=50)) == len(everything)


def test_cursor_carries_size_and_filters(api: httpx.Client, wepay_auth: dict[str, str]) -> None:
    first = api.get(
        LIST, params={"page_size": 4, "account_id": "c4a1abf1-34ac-40e8-bdba-5649f0643043"}, headers=wepay_auth
    ).json()
    second = api.get(first["next"], headers=wepay_auth).json()
    assert len(second["results"]) == 4
    assert all(s["owner"]["id"] == "c4a1abf1-34ac-40e8-bdba-5649f0643043" for s in second["results"])


# `page_size=10&currency=USD` are the cursor's own values (and what generators sent while the spec declared them
# as schema defaults): still refused, as the spec says.
@pytest.mark.parametrize(
    "extra", ["page_size=5", "account_id=x", "currency=USD", "page_size=5&currency=CAD", "page_size=10&currency=USD"]
)
def test_cursor_with_other_parameters_is_rejected(api: httpx.Client, wepay_auth: dict[str, str], extra: str) -> None:
    cursor = api.get(LIST, headers=wepay_auth).json()["next"]
    body = _assert_v3(api.get(f"{cursor}&{extra}", headers=wepay_auth), 400, "INVALID_PARAMS")
    assert sorted(d["target"][0] for d in body["details"]) == sorted(p.split("=")[0] for p in extra.split("&"))


def test_unknown_parameters_beside_a_cursor_are_ignored(api: httpx.Client, wepay_auth: dict[str, str]) -> None:
    cursor = api.get(LIST, headers=wepay_auth).json()["next"]
    assert api.get(f"{cursor}&utm_source=x", headers=wepay_auth).status_code == 200


def test_altered_cursors_are_rejected(api: httpx.Client, wepay_auth: dict[str, str]) -> None:
    token = api.get(LIST, headers=wepay_auth).json()["next"].split("page=", 1)[1]
    payload, mac = token.split(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    for forged in (
        flipped + "." + mac,
        token[:-3],
        token + "=",
        token.replace(".", ""),
        "abc",
        payload + ".",
        f"{payload}.{mac[::-1]}",
    ):
        body = _assert_v3(api.get(LIST, params={"page": forged}, headers=wepay_auth), 400, "INVALID_PARAMS")
        assert body["details"][0]["target"] == ["page"]


def test_statement_by_id_equals_the_list_object(api: httpx.Client, wepay_auth: dict[str, str]) -> None:
    headers = {**wepay_auth, "Api-Version": "3.1"}
    for statement in api.get(LIST, params={"page_size": 20}, headers=headers).json()["results"]:
        response = api.get(statement["path"], headers=headers)
        assert response.status_code == 200
        uuid.UUID(response.headers["x-correlation-id"])
        assert response.json() == statement


def test_unknown_statement_is_not_found(api: httpx.Client, wepay_auth: dict[str, str]) -> None:
    body = _assert_v3(api.get(f"{LIST}/does-not-exist", headers=wepay_auth), 404, "NOT_FOUND")
    assert body["details"][0]["target"] == ["id"]
    assert body["details"][0]["target_type"] == "HTTP_REQUEST_PATH"


def test_too_long_id_is_invalid(api: httpx.Client, wepay_auth: dict[str, str]) -> None:
    body = _assert_v3(api.get(f"{LIST}/{'x' * 256}", headers=wepay_auth), 400, "INVALID_PARAMS")
    assert body["details"][0]["target_type"] == "HTTP_REQUEST_PATH"


@pytest.mark.parametrize(("method", "path"), [("POST", LIST), ("DELETE", LIST), ("PUT", f"{LIST}/x"), ("PATCH", LIST)])
def test_other_methods_are_405_in_the_v3_envelope(
    api: httpx.Client, wepay_auth: dict[str, str], method: str, path: str
) -> None:
    response = api.request(method, path, headers=wepay_auth)
    body = _assert_v3(response, 405, "NOT_FOUND")
    assert "GET" in response.headers["allow"]
    # the reason the contract's description gives for a method not allowed
    assert [d["reason_code"] for d in body["details"]] == ["METHOD_NOT_ALLOWED"]


def test_unknown_parameters_are_ignored(api: httpx.Client, wepay_auth: dict[str, str]) -> None:
    plain = api.get(LIST, headers=wepay_auth).json()
    extra = api.get(LIST, params={"sort": "asc", "limit": "1"}, headers=wepay_auth).json()
    assert plain["results"] == extra["results"]


def test_errors_carry_no_record_data(api: httpx.Client, wepay_auth: dict[str, str]) -> None:
    statement_id = api.get(LIST, headers=wepay_auth).json()["results"][0]["id"]
    for response in (
        api.get(f"{LIST}/{statement_id}", headers={"App-Id": "x", "App-Token": "y", "Api-Version": "3.0"}),
        api.get(LIST, headers={"Api-Version": "3.0"}),
    ):
        assert statement_id not in response.text
        assert "total_fee_amount" not in response.text


@pytest.mark.parametrize("path", [f"{LIST}/", f"{LIST}/x/"])
def test_a_stray_slash_is_not_found_not_redirected(api: httpx.Client, wepay_auth: dict[str, str], path: str) -> None:
    response = api.get(path, headers=wepay_auth, follow_redirects=False)
    _assert_v3(response, 404, "NOT_FOUND")
