"""An exchange as the reports keep it: the request (method, URL, headers, body) and the answer (status,
headers, body), with every secret the run was given shown as the `${BILLING_…}` variable it came from
(the same masking as the repro commands, `SuiteConfig.secrets()`), and each body cut at `MAX_BODY`.

Built from the semantic checks' `conformance.http.Exchange` and from Schemathesis' recorded interactions,
so a failure's report shows what was sent and what came back whichever kind of check found it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.http import Exchange

# A report holds up to 20 findings per check, each with two bodies: a page of records is a few KB, and a
# body cut here says how much was left out.
MAX_BODY = 16 * 1024
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    url: str
    headers: Headers
    body: str = ""


@dataclass(frozen=True)
class RecordedResponse:
    status: int
    headers: Headers
    body: str = ""


@dataclass(frozen=True)
class RecordedExchange:
    request: RecordedRequest
    # None when no answer came (a timeout, a closed connection).
    response: RecordedResponse | None = None


def mask(text: str, secrets: Mapping[str, str]) -> str:
    """`text` with each secret value replaced by `${VAR}` (longest first, so no secret hides inside another)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, f"${{{secrets[secret]}}}")
    return text


def _body(data: bytes | str | None, secrets: Mapping[str, str]) -> str:
    if data is None:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if len(text) > MAX_BODY:
        text = f"{text[:MAX_BODY]}\n… ({len(text) - MAX_BODY} more characters not kept)"
    return mask(text, secrets)


def _headers(pairs: Iterable[tuple[str, Any]], secrets: Mapping[str, str]) -> Headers:
    """Header pairs as text, secrets masked; a list value (Schemathesis keeps lists) is one pair per item."""
    flat: list[tuple[str, str]] = []
    for name, value in pairs:
        for item in value if isinstance(value, list) else [value]:
            flat.append((str(name), mask(str(item), secrets)))
    return tuple(flat)


def from_exchange(exchange: Exchange | None, secrets: Mapping[str, str]) -> RecordedExchange | None:
    """A semantic check's exchange. Its client sends no body; status 0 is a request that got no answer."""
    if exchange is None:
        return None
    request = RecordedRequest(exchange.method, mask(exchange.url, secrets), _headers(exchange.headers.items(), secrets))
    if not exchange.status:
        return RecordedExchange(request)
    response = RecordedResponse(
        exchange.status, _headers(exchange.response_headers.multi_items(), secrets), _body(exchange.text, secrets)
    )
    return RecordedExchange(request, response)


def from_interaction(interaction: Any, secrets: Mapping[str, str]) -> RecordedExchange | None:
    """A Schemathesis interaction: its request as sent, and its response when one came."""
    if interaction is None:
        return None
    sent = interaction.request
    headers = _headers(sent.headers.items(), secrets)
    request = RecordedRequest(str(sent.method), mask(str(sent.uri), secrets), headers, _body(sent.body, secrets))
    answer = interaction.response
    if answer is None:
        return RecordedExchange(request)
    response = RecordedResponse(
        int(answer.status_code), _headers(answer.headers.items(), secrets), _body(answer.content, secrets)
    )
    return RecordedExchange(request, response)
