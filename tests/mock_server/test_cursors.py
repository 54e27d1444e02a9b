"""WePay cursors: forged, truncated, re-encoded or replayed with other filters, a cursor is a
`400 INVALID_PARAMS` on `page`, and never yields another account's statements."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest

from mock_server.config import MockConfig
from mock_server.cursors import CursorCodec, CursorState
from mock_server.testing import RunningMock, running_mock

LIST = "/billing_statements"


@pytest.fixture(scope="module")
def client(mock: RunningMock) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, headers=mock.wepay_headers, timeout=10) as http:
        yield http


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cursor(link: str) -> str:
    return link.split("page=", 1)[1]


def _accounts(mock: RunningMock) -> list[str]:
    owners = {s["owner"]["id"] for s in mock.app.state.data.dataset.statements if s["owner"]}
    return sorted(owners)


def _owned_cursor(client: httpx.Client, account: str) -> str:
    """A genuine `next` cursor of one account's collection (page_size 1, so there is a next page)."""
    body = client.get(LIST, params={"account_id": account, "page_size": 1}).json()
    assert body["next"], "the account needs at least two statements"
    return _cursor(body["next"])


def _assert_invalid_cursor(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMS"
    assert [d["target"] for d in body["details"]] == [["page"]]
    assert body["details"][0]["target_type"] == "HTTP_REQUEST_QUERY_STRING"
    assert "results" not in body


def _forgeries(token: str, other_account: str) -> dict[str, str]:
    payload_text, mac_text = token.split(".")
    payload = json.loads(_unb64(payload_text))
    mac = _unb64(mac_text)

    def resign(changed: dict) -> str:  # a new payload under the old signature
        return f"{_b64(json.dumps(changed, separators=(',', ':')).encode())}.{mac_text}"

    other_filters = [[k, other_account if k == "account_id" else v] for k, v in payload["f"]]
    padded_payload = base64.urlsafe_b64encode(_unb64(payload_text)).decode()
    return {
        "other-account": resign({**payload, "f": other_filters}),
        "no-filters": resign({**payload, "f": []}),
        "offset-zero": resign({**payload, "o": 0}),
        "bigger-page": resign({**payload, "s": 500}),
        "negative-offset": resign({**payload, "o": -1}),
        "flipped-mac-bit": f"{payload_text}.{_b64(bytes([mac[0] ^ 1]) + mac[1:])}",
        "empty-mac": f"{payload_text}.",
        "no-mac": payload_text,
        "mac-only": f".{mac_text}",
        "truncated-payload": f"{payload_text[:-4]}.{mac_text}",
        "truncated-mac": f"{payload_text}.{mac_text[:-2]}",
        "truncated-1": token[:-1],
        "truncated-half": token[: len(token) // 2],
        "extra-dot": f"{token}.",
        "two-macs": f"{token}.{mac_text}",
        "padded-payload": f"{padded_payload}.{mac_text}",
        "padded-mac": f"{payload_text}.{base64.urlsafe_b64encode(mac).decode()}",
        "swapped-halves": f"{mac_text}.{payload_text}",
        "uppercased": token.upper(),
        "whitespace": f" {token} ",
        "plain-json": json.dumps(payload),
        "long": token + "A" * 3000,
        "nul": token + "\x00",
        "random": "aaabc123def456",
    }


def test_a_genuine_cursor_is_accepted(client: httpx.Client, mock: RunningMock) -> None:
    account = _accounts(mock)[0]
    response = client.get(LIST, params={"page": _owned_cursor(client, account)})
    assert response.status_code == 200
    assert {s["owner"]["id"] for s in response.json()["results"]} == {account}


@pytest.mark.parametrize(
    "kind",
    [
        "other-account",
        "no-filters",
        "offset-zero",
        "bigger-page",
        "negative-offset",
        "flipped-mac-bit",
        "empty-mac",
        "no-mac",
        "mac-only",
        "truncated-payload",
        "truncated-mac",
        "truncated-1",
        "truncated-half",
        "extra-dot",
        "two-macs",
        "padded-payload",
        "padded-mac",
        "swapped-halves",
        "uppercased",
        "whitespace",
        "plain-json",
        "long",
        "nul",
        "random",
    ],
)
def test_altered_cursors_are_invalid_params(client: httpx.Client, mock: RunningMock, kind: str) -> None:
    accounts = _accounts(mock)
    token = _owned_cursor(client, accounts[0])
    forged = _forgeries(token, accounts[1])[kind]
    assert forged != token
    _assert_invalid_cursor(client.get(LIST, params={"page": forged}))


@pytest.mark.parametrize(
    "extra",
    [
        {"account_id": "OTHER"},
        {"account_id": ""},
        {"currency": "USD"},
        {"currency": "CAD"},
        {"page_size": 500},
        {"page_size": 1, "account_id": "OTHER", "currency": "USD"},
    ],
)
def test_a_cursor_replayed_with_other_filters_is_refused(client: httpx.Client, mock: RunningMock, extra: dict) -> None:
    accounts = _accounts(mock)
    params = {k: (accounts[1] if v == "OTHER" else v) for k, v in extra.items()}
    response = client.get(LIST, params={"page": _owned_cursor(client, accounts[0]), **params})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMS"
    assert {d["target"][0] for d in body["details"]} == set(params)
    reasons = {d["reason_code"] for d in body["details"]}
    assert reasons <= {"PARAMETER_NOT_ALLOWED_WITH_PAGE", "INVALID_PARAMETER_LENGTH"}, reasons
    assert "results" not in body


def _standard(text: str) -> str:
    return base64.b64encode(_unb64(text)).decode().rstrip("=")


def test_standard_alphabet_reencoding_is_refused(client: httpx.Client, mock: RunningMock) -> None:
    """The same bytes in standard base64 (`+`, `/`) instead of base64url are not the issued cursor."""
    tried = 0
    for account in _accounts(mock):
        for size in range(1, 30):
            body = client.get(LIST, params={"account_id": account, "page_size": size}).json()
            if not body["next"]:
                continue
            token = _cursor(body["next"])
            reencoded = ".".join(_standard(part) for part in token.split("."))
            if reencoded != token:
                _assert_invalid_cursor(client.get(LIST, params={"page": reencoded}))
                tried += 1
    assert tried >= 3


def test_a_cursor_from_another_dataset_is_refused(client: httpx.Client) -> None:
    """A cursor signed for another seed (another mock instance) is not this server's."""
    with (
        running_mock(MockConfig(seed=1)) as other,
        httpx.Client(base_url=other.url, headers=other.wepay_headers, timeout=10) as other_client,
    ):
        foreign = _cursor(other_client.get(LIST, params={"page_size": 1}).json()["next"])
    _assert_invalid_cursor(client.get(LIST, params={"page": foreign}))


def test_a_cursor_signed_with_a_guessable_key_is_refused(client: httpx.Client, mock: RunningMock) -> None:
    """Forging with plausible keys (empty, the seed, the defaults) does not work."""
    account = _accounts(mock)[1]
    state = CursorState(0, 500, (("account_id", account), ("currency", "USD")))
    for key in (b"", b"billing-mock", str(mock.app.state.data.dataset.seed).encode(), b"\x00" * 32):
        _assert_invalid_cursor(client.get(LIST, params={"page": CursorCodec(key).encode(state)}))


def test_walking_an_accounts_cursors_never_leaves_the_account(client: httpx.Client, mock: RunningMock) -> None:
    for account in _accounts(mock):
        body = client.get(LIST, params={"account_id": account, "page_size": 2}).json()
        seen = list(body["results"])
        while body["next"]:
            body = client.get(body["next"]).json()
            seen += body["results"]
        assert seen and {s["owner"]["id"] for s in seen} == {account}


@pytest.mark.parametrize("version", ["3.0", "3.1", "3.2"])
def test_cursors_work_across_api_versions(client: httpx.Client, version: str) -> None:
    """The cursor carries filters, not the version: replaying under another version is allowed."""
    token = _cursor(client.get(LIST, params={"page_size": 1}).json()["next"])
    response = client.get(LIST, params={"page": token}, headers={"Api-Version": version})
    assert response.status_code == 200
    assert response.json()["api_version"] == version


def test_the_codec_remembers_a_bounded_number_of_valid_tokens_only() -> None:
    from mock_server.cursors import InvalidCursor

    key = bytes(32)
    issuer, verifier = CursorCodec(key, remembered=3), CursorCodec(key, remembered=3)
    states = [CursorState(offset, 10, (("account_id", ""), ("currency", "USD"))) for offset in range(0, 100, 10)]
    tokens = [issuer.encode(state) for state in states]
    assert len(issuer._states) == len(issuer._tokens) == 3  # the oldest went out first
    # Remembered or not, every token decodes to its state, here and in a codec that never issued it.
    assert [issuer.decode(t) for t in tokens] == states == [verifier.decode(t) for t in tokens]
    forged = tokens[-1][:-2] + ("AA" if not tokens[-1].endswith("AA") else "BB")
    for codec in (issuer, verifier):
        with pytest.raises(InvalidCursor):
            codec.decode(forged)
        assert forged not in codec._states and len(codec._states) == 3
    with pytest.raises(InvalidCursor):
        CursorCodec(bytes([1]) * 32).decode(tokens[-1])  # another key: remembered nowhere, verified and refused
