"""Why the mock refused a request, for the people reading its log and `/__mock/requests`: one reason per
bad field — where it was (`location`), its name, the rule it broke and a line saying so (`query page_size:
maximum 100, got 101`) — worded from the same `ApiProblem` the API's error body is rendered from.

A refused credential names the header and why (missing, not the configured value, an expired token),
never its value. Each API's body keeps its own words; these lines are the mock's, the same for both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from mock_server.errors.envelope import echo
from mock_server.errors.problem import ApiProblem, FieldError, Kind, Reason
from mock_server.security import bearer_presented, token_error

Reasons = list[dict[str, str]]
# Whether a presented credential header holds the configured value: (header, value) -> bool.
CredentialCheck = Callable[[str, str], bool]

_TOKEN_ERRORS = {
    "invalid": "not the configured token",
    "expired": "the token has expired",
    "bad_authorization_header": "not `Bearer <token>`",
}


def _reason(location: str, name: str, rule: str, said: str) -> dict[str, str]:
    where = f"{location} {name}".strip()
    return {"location": location, "name": name, "rule": rule, "message": f"{where}: {said}"}


def _quoted(value: Any) -> str:
    """A value as sent: text quoted (so an empty one shows), numbers as they are."""
    return repr(echo(value)) if isinstance(value, str) else echo(value)


def _said(error: FieldError) -> str:
    """The broken rule and the value, in a few words (`maximum 100, got 101`)."""
    got = f"got {_quoted(error.value)}"
    match error.reason:
        case Reason.MISSING:
            return "required, missing"
        case Reason.TYPE:
            return f"type {error.limit}, {got}"
        case Reason.MINIMUM | Reason.MAXIMUM | Reason.MIN_LENGTH | Reason.MAX_LENGTH | Reason.PATTERN:
            return f"{error.reason.value} {error.limit}, {got}"
        case Reason.ENUM:
            return f"one of {', '.join(map(_quoted, error.limit or ()))}, {got}"
        case Reason.PAST_LAST_PAGE:
            return f"past the last page, {got}"
        case Reason.INVALID_CURSOR:
            return "not a cursor this server issued for this collection"
        case Reason.NOT_ALLOWED_WITH_CURSOR:
            return "not allowed beside a cursor (the cursor carries it)"
    return f"invalid, {got}"


def field_reason(error: FieldError) -> dict[str, str]:
    said = error.message or _said(error)
    return _reason(error.location, error.name, error.reason.value, said)


def _credentials(
    schemes: list[Mapping[str, Any]], headers: Mapping[str, str], accepted: CredentialCheck | None
) -> Reasons:
    """Each credential of the operation's schemes that is missing or refused, and why (never its value)."""
    found: Reasons = []
    for scheme in schemes:
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            authorization = headers.get("authorization", "")
            if not bearer_presented(headers):
                why = "no Bearer token (missing, or not the `Bearer` scheme)"
                found.append(_reason("header", "Authorization", "missing", why))
            elif accepted is None or not accepted("Authorization", authorization):
                error = token_error(authorization, time.time()).value  # simplejwt's reason
                found.append(_reason("header", "Authorization", error, _TOKEN_ERRORS.get(error, error)))
        elif scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            name = str(scheme["name"])
            value = headers.get(name.lower())
            if value is None:
                found.append(_reason("header", name, "missing", "required credential, missing"))
            elif accepted is None or not accepted(name, value):
                found.append(_reason("header", name, "invalid", "not the configured credential"))
    return found


def problem_reasons(
    problem: ApiProblem,
    method: str,
    path: str,
    headers: Mapping[str, str],
    schemes: list[Mapping[str, Any]],
    accepted: CredentialCheck | None = None,
) -> Reasons:
    """Why this problem refused the request, one entry per cause."""
    kind = problem.kind
    if kind is Kind.INVALID_REQUEST:
        if problem.errors:
            return [field_reason(error) for error in problem.errors]
        return [_reason("query", "", "invalid", problem.detail or "malformed request")]
    if kind is Kind.UNAUTHENTICATED:
        refused = _credentials(schemes, headers, accepted)
        # Nothing wrong with the credentials: the client chose the credentials check's answer.
        return refused or [_reason("header", "Prefer", "prefer", "the credentials check's answer, as Prefer chose")]
    if kind is Kind.NOT_FOUND:
        if problem.resource_param:
            param = problem.resource_param
            return [_reason("path", param, "not_found", f"no resource has {param} {echo(problem.detail)!r}")]
        return [_reason("path", "", "no_route", f"{echo(path)} is no path of the contract")]
    if kind is Kind.METHOD_NOT_ALLOWED:
        allowed = ", ".join(problem.allow)
        return [_reason("method", method, "method_not_allowed", f"not allowed on this path; allowed: {allowed}")]
    if kind is Kind.THROTTLED:
        wait = problem.retry_after or 1
        return [_reason("request", "", "rate_limit", f"over the account's rate limit; retry after {wait}s")]
    if kind in (Kind.BAD_GATEWAY, Kind.GATEWAY_TIMEOUT):
        return [_reason("upstream", "", kind.value, problem.detail or kind.value)]
    if problem.detail:  # a 500 the mock was told to give (--error-rate)
        return [_reason("mock", "", "injected_error", problem.detail)]
    return [_reason("mock", "", "server_error", "the mock failed to answer (its log has the error)")]


def chosen_reasons(code: int, example: str | None) -> Reasons:
    """An error status the client chose (`Prefer: code=…`): not a refusal, but why the answer is an error."""
    chosen = f"code={code}" + (f", example={example}" if example else "")
    return [_reason("header", "Prefer", "prefer", f"the documented {code} answer, as `Prefer: {chosen}` chose")]
