"""Credentials: every missing, partial, empty, wrong-scheme and wrong-value combination on every
operation is refused as the contract says, without record data; secrets are compared in constant
time and never logged."""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_server import create_app, security
from mock_server.cli import banner
from mock_server.config import MockConfig
from mock_server.security import Credentials
from mock_server.testing import RunningMock, running_mock
from tests.support import mock_process

ROOT = Path(__file__).resolve().parents[2]
MIFUMO = "/api/billing/history/"
WEPAY = "/billing_statements"
CHALLENGE = 'Bearer realm="api"'
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
TOKEN_NOT_VALID = {
    "detail": "Given token not valid for any token type",
    "code": "token_not_valid",
    "messages": [{"token_class": "AccessToken", "token_type": "access", "message": "Token is invalid"}],
}
BAD_HEADER = {
    "detail": "Authorization header must contain two space-delimited values",
    "code": "bad_authorization_header",
}
EXPIRED = {**TOKEN_NOT_VALID, "messages": [{**TOKEN_NOT_VALID["messages"][0], "message": "Token is expired"}]}
ANSWERS = {"absent": NOT_PROVIDED, "invalid": TOKEN_NOT_VALID, "bad-header": BAD_HEADER, "expired": EXPIRED}


@pytest.fixture(scope="module")
def client(mock: RunningMock) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, timeout=10) as http:
        yield http


def _record_markers(mock: RunningMock) -> list[str]:
    """Strings only record data contains: record and owner ids, descriptions."""
    dataset = mock.app.state.data.dataset
    markers = [r["id"] for r in dataset.records[:20]] + [r["description"] for r in dataset.records[:5]]
    markers += [s["id"] for s in dataset.statements[:20]]
    markers += [s["owner"]["id"] for s in dataset.statements if s["owner"]][:5]
    return markers


def _assert_no_records(mock: RunningMock, response: httpx.Response) -> None:
    text = response.text
    assert "results" not in response.json()
    leaked = [m for m in _record_markers(mock) if m in text]
    assert not leaked, leaked


# -- Mifumo: bearer JWT ------------------------------------------------------------------------------

TOKEN = security.DEFAULT_BEARER_TOKEN

# (Authorization header or None, answer): "absent" when simplejwt would say "not provided".
MIFUMO_CASES: dict[str, tuple[str | bytes | None, str]] = {
    "missing": (None, "absent"),
    "empty": ("", "absent"),
    "scheme-only": ("Bearer", "bad-header"),  # simplejwt: the scheme and exactly one token
    "lowercase-scheme": (f"bearer {TOKEN}", "absent"),
    "uppercase-scheme": (f"BEARER {TOKEN}", "absent"),
    "basic-scheme": ("Basic bW9jazptb2Nr", "absent"),
    "token-scheme": (f"Token {TOKEN}", "absent"),
    "jwt-scheme": (f"JWT {TOKEN}", "absent"),
    "no-scheme": (TOKEN, "absent"),
    "wrong-token": ("Bearer wrong", "invalid"),
    "truncated-token": (f"Bearer {TOKEN[:-1]}", "invalid"),
    "extended-token": (f"Bearer {TOKEN}x", "invalid"),
    "case-changed-token": (f"Bearer {TOKEN.swapcase()}", "invalid"),
    "two-tokens": (f"Bearer {TOKEN} {TOKEN}", "bad-header"),
    "expired-token": (f"Bearer {security.EXPIRED_BEARER_TOKEN}", "expired"),
    "other-api-key": ("Bearer mock-app-token", "invalid"),
    "latin1-token": ("Bearer t\u00f6ken".encode("latin-1"), "invalid"),
    "utf8-token": (f"Bearer {TOKEN}\u00e9".encode(), "invalid"),
    "invalid-utf8-token": (b"Bearer \xff\xfe" + TOKEN.encode(), "invalid"),
}


@pytest.mark.parametrize("query", ["", "?page_size=0&type=refund", "?page=999"], ids=["plain", "bad-query", "past-end"])
@pytest.mark.parametrize(("authorization", "answer"), MIFUMO_CASES.values(), ids=MIFUMO_CASES.keys())
def test_mifumo_refuses_every_bad_bearer(
    mock: RunningMock, client: httpx.Client, authorization: str | bytes | None, answer: str, query: str
) -> None:
    headers: dict[str, str | bytes] = {} if authorization is None else {"Authorization": authorization}
    # The other API's credentials never authenticate Mifumo.
    headers |= {k: v for k, v in mock.wepay_headers.items()}
    response = client.get(MIFUMO + query, headers=headers)
    assert response.status_code == 401  # authentication comes before parameters and pages
    assert response.headers["www-authenticate"] == CHALLENGE
    assert response.json() == ANSWERS[answer]
    _assert_no_records(mock, response)


# -- WePay: App-Id + App-Token ------------------------------------------------------------------------

APP_ID, APP_TOKEN = security.DEFAULT_APP_ID, security.DEFAULT_APP_TOKEN
KINDS = ("missing", "empty", "right", "wrong", "prefix", "suffixed", "case-changed", "swapped")


def _value(kind: str, right: str, other: str) -> str | None:
    return {
        "missing": None,
        "empty": "",
        "right": right,
        "wrong": "wrong",
        "prefix": right[:-1],
        "suffixed": right + " x",
        "case-changed": right.upper(),
        "swapped": other,
    }[kind]


WEPAY_COMBINATIONS = [(i, t) for i, t in itertools.product(KINDS, KINDS) if (i, t) != ("right", "right")]


def _wepay_paths(mock: RunningMock) -> list[str]:
    statement_id = mock.app.state.data.dataset.statements[0]["id"]
    return [WEPAY, f"{WEPAY}?page_size=0", f"{WEPAY}/{statement_id}", f"{WEPAY}/no-such-id"]


@pytest.mark.parametrize(
    ("app_id", "app_token"), WEPAY_COMBINATIONS, ids=[f"id-{i}_token-{t}" for i, t in WEPAY_COMBINATIONS]
)
def test_wepay_refuses_every_bad_credential_pair(
    mock: RunningMock, client: httpx.Client, app_id: str, app_token: str
) -> None:
    headers = {"Api-Version": "3.0", "Authorization": mock.mifumo_headers["Authorization"]}
    presented = {"App-Id": _value(app_id, APP_ID, APP_TOKEN), "App-Token": _value(app_token, APP_TOKEN, APP_ID)}
    for name, value in presented.items():
        if value is not None:
            headers[name] = value
    for path in _wepay_paths(mock):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, (path, response.text)
        body = response.json()
        assert body["error_code"] == "NOT_AUTHORIZED"
        assert set(body) == {"error_code", "error_message", "details"}
        assert body["details"][0]["target"] == ["App-Id", "App-Token"]
        assert body["details"][0]["target_type"] == "HTTP_REQUEST_HEADER"
        assert response.headers["x-correlation-id"]  # present on errors too
        _assert_no_records(mock, response)


@pytest.mark.parametrize("version", [None, "", "9.9"])
def test_wepay_credentials_are_checked_before_api_version(mock: RunningMock, client: httpx.Client, version) -> None:
    headers = {"App-Id": APP_ID, "App-Token": "wrong"}
    if version is not None:
        headers["Api-Version"] = version
    for path in _wepay_paths(mock):
        assert client.get(path, headers=headers).status_code == 403


def test_the_right_credentials_are_accepted_on_every_operation(mock: RunningMock, client: httpx.Client) -> None:
    statement_id = mock.app.state.data.dataset.statements[0]["id"]
    assert client.get(MIFUMO, headers=mock.mifumo_headers).status_code == 200
    assert client.get(WEPAY, headers=mock.wepay_headers).status_code == 200
    assert client.get(f"{WEPAY}/{statement_id}", headers=mock.wepay_headers).status_code == 200


# -- constant time ---------------------------------------------------------------------------------


def test_same_secret_is_hmac_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    assert security.same_secret("abc", "abc") is True
    assert security.same_secret("abd", "abc") is False
    assert security.same_secret("", "abc") is False
    assert calls == [(b"abc", b"abc"), (b"abd", b"abc"), (b"", b"abc")]


def test_every_credential_check_goes_through_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over HTTP: each presented credential reaches `hmac.compare_digest` (no `==` shortcut)."""
    seen: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append(a)
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    creds = Credentials(bearer_token="bearer-secret-1", app_id="id-secret-2", app_token="token-secret-3")
    with running_mock(MockConfig(credentials=creds)) as mock, httpx.Client(base_url=mock.url, timeout=10) as http:
        for token in ("bearer-secret-1", "bearer-secret-x", "b"):
            http.get(MIFUMO, headers={"Authorization": f"Bearer {token}"})
        for app_id, app_token in (
            ("id-secret-2", "token-secret-3"),
            ("id-secret-x", "token-secret-3"),
            ("id-secret-2", "t"),
        ):
            http.get(WEPAY, headers={"App-Id": app_id, "App-Token": app_token, "Api-Version": "3.0"})
    for presented in (b"bearer-secret-1", b"bearer-secret-x", b"b", b"id-secret-2", b"id-secret-x", b"t"):
        assert presented in seen, (presented, seen)


def test_same_secret_handles_non_ascii_and_surrogates() -> None:
    assert security.same_secret("t\u00f6ken", "t\u00f6ken")
    assert not security.same_secret("\udcff", "x")  # undecodable header bytes never raise


# -- secrets never logged ------------------------------------------------------------------------------

SECRETS = Credentials(bearer_token="s3cret-bearer-7f1e", app_id="s3cret-appid-91c2", app_token="s3cret-apptoken-4d0b")


def test_secrets_never_appear_in_logs_after_the_banner() -> None:
    credentials = ("--bearer-token", SECRETS.bearer_token, "--app-id", SECRETS.app_id, "--app-token", SECRETS.app_token)
    with mock_process("--log-level", "debug", *credentials) as spawned:
        right_m = {"Authorization": f"Bearer {SECRETS.bearer_token}"}
        right_w = {"App-Id": SECRETS.app_id, "App-Token": SECRETS.app_token, "Api-Version": "3.0"}
        with httpx.Client(base_url=spawned.url, timeout=10) as http:
            for headers in (
                right_m,
                {"Authorization": f"Bearer {SECRETS.bearer_token}x"},
                {"Authorization": f"bearer {SECRETS.bearer_token}"},
            ):
                http.get(MIFUMO, headers=headers)
                http.get(MIFUMO + "?page_size=0&x=1", headers=headers)
            for headers in (
                right_w,
                {**right_w, "App-Token": SECRETS.app_token + "x"},
                {**right_w, "App-Id": SECRETS.app_token, "App-Token": SECRETS.app_id},
                {"App-Id": SECRETS.app_id, "Api-Version": "3.0"},
            ):
                http.get(WEPAY, headers=headers)
                http.get(f"{WEPAY}?page_size=0&currency=EUR&zz=1", headers=headers)
                http.get(f"{WEPAY}/nope", headers=headers)
                http.post(WEPAY, headers=headers)
    stdout, stderr = spawned.stdout, spawned.stderr
    port = int(spawned.url.rsplit(":", 1)[1])
    lines = stdout.splitlines()
    assert lines[0].startswith("billing-mock on "), stdout[:500]
    # the banner prints the credentials on purpose (for curl and the suite); nothing after it may
    shown = banner(create_app(MockConfig(credentials=SECRETS)), "127.0.0.1", port, 1).splitlines()
    assert lines[: len(shown)] == shown
    after_banner = "\n".join(lines[len(shown) :]) + "\n" + stderr
    assert "GET /api/billing/history/" in after_banner  # the debug log did record the requests
    for secret in (SECRETS.bearer_token, SECRETS.app_id, SECRETS.app_token):
        assert secret not in after_banner, f"{secret!r} leaked into the logs"
        assert secret[:12] not in after_banner, f"part of {secret!r} leaked into the logs"
