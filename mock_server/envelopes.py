"""Each API's own error body: one renderer per API, fed the same `ApiProblem`.

Fixed bodies (DRF's `Invalid page.`, simplejwt's `token_not_valid`, the `WWW-Authenticate`
challenge) are the contract's own named examples and enums, read from the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from billing_contract.spec import Spec
from mock_server.problems import ApiProblem, FieldError, Kind, Reason

_MAX_ECHO = 80


@dataclass
class ErrorResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Envelope(Protocol):
    def render(self, problem: ApiProblem, method: str) -> ErrorResponse: ...


def _echo(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + "…"


def _component_example(spec: Spec, response: str, example: str) -> Any:
    node = spec.resolve(spec.document["components"]["responses"][response])
    return node["content"]["application/json"]["examples"][example]["value"]


class DrfEnvelope:
    """Django REST Framework (Mifumo): `{"detail": ...}` and field-error maps."""

    # DRF's PageNumberPagination.page_query_param: its errors are "Invalid page." 404s, not 400s.
    page_param = "page"

    def __init__(self, spec: Spec) -> None:
        self.not_provided = _component_example(spec, "MifumoUnauthorized", "notProvided")
        self.token_not_valid = _component_example(spec, "MifumoUnauthorized", "tokenNotValid")
        self.invalid_page = _component_example(spec, "MifumoInvalidPage", "invalidPage")
        self.server_error = _component_example(spec, "MifumoServerError", "serverError")
        challenge = spec.resolve(spec.document["components"]["headers"]["WWWAuthenticate"])
        self.challenge = challenge["schema"]["enum"][0]

    def render(self, problem: ApiProblem, method: str) -> ErrorResponse:
        kind = problem.kind
        if kind is Kind.INVALID_REQUEST:
            if not problem.errors:  # not about one field: DRF's non-field errors key
                return ErrorResponse(400, {"non_field_errors": [problem.detail or "Malformed request."]})
            return self._invalid(problem.errors)
        if kind is Kind.UNAUTHENTICATED:
            body = self.token_not_valid if problem.credentials_presented else self.not_provided
            return ErrorResponse(401, body, {"WWW-Authenticate": self.challenge})
        if kind is Kind.NOT_FOUND:
            return ErrorResponse(404, {"detail": "Not found."})
        if kind is Kind.METHOD_NOT_ALLOWED:
            return ErrorResponse(
                405, {"detail": f'Method "{_echo(method)}" not allowed.'}, {"Allow": ", ".join(problem.allow)}
            )
        if kind is Kind.THROTTLED:
            wait = problem.retry_after or 1
            return ErrorResponse(
                429,
                {"detail": f"Request was throttled. Expected available in {wait} seconds."},
                {"Retry-After": str(wait)},
            )
        return ErrorResponse(500, self.server_error)

    def _invalid(self, errors: tuple[FieldError, ...]) -> ErrorResponse:
        field_errors: dict[str, list[str]] = {}
        for error in errors:
            if error.location == "query" and error.name == self.page_param:
                continue
            # Only query parameters are serializer fields; anything else is a non-field error to DRF.
            key = error.name if error.location == "query" else "non_field_errors"
            field_errors.setdefault(key, []).append(self._message(error))
        if field_errors:
            return ErrorResponse(400, field_errors)
        return ErrorResponse(404, self.invalid_page)

    @staticmethod
    def _message(error: FieldError) -> str:
        if error.message:
            return error.message
        match error.reason:
            case Reason.MISSING:
                return "This field is required."
            case Reason.TYPE:
                return {"integer": "A valid integer is required.", "number": "A valid number is required."}.get(
                    str(error.limit), "Not a valid string."
                )
            case Reason.MAXIMUM:
                return f"Ensure this value is less than or equal to {error.limit}."
            case Reason.MINIMUM:
                return f"Ensure this value is greater than or equal to {error.limit}."
            case Reason.ENUM:
                return f"Select a valid choice. {_echo(error.value)} is not one of the available choices."
            case Reason.MAX_LENGTH:
                return f"Ensure this field has no more than {error.limit} characters."
            case Reason.MIN_LENGTH:
                return (
                    "This field may not be blank."
                    if error.value == ""
                    else (f"Ensure this field has at least {error.limit} characters.")
                )
        return "Enter a valid value."


_TARGET_TYPES = {"header": "HTTP_REQUEST_HEADER", "path": "HTTP_REQUEST_PATH", "query": "HTTP_REQUEST_QUERY_STRING"}
_REASON_CODES = {
    Reason.MISSING: "PARAMETER_IS_MISSING",
    Reason.TYPE: "INVALID_PARAMETER_TYPE",
    Reason.MINIMUM: "PARAMETER_VALUE_OUT_OF_RANGE",
    Reason.MAXIMUM: "PARAMETER_VALUE_OUT_OF_RANGE",
    Reason.ENUM: "INVALID_PARAMETER_VALUE",
    Reason.MIN_LENGTH: "INVALID_PARAMETER_LENGTH",
    Reason.MAX_LENGTH: "INVALID_PARAMETER_LENGTH",
    Reason.INVALID_CURSOR: "INVALID_PAGE_CURSOR",
    Reason.NOT_ALLOWED_WITH_CURSOR: "PARAMETER_NOT_ALLOWED_WITH_PAGE",
}


class V3Envelope:
    """WePay v3: `{"error_code", "error_message", "details": [...]}`."""

    def __init__(self, spec: Spec) -> None:
        schemes = spec.document.get("components", {}).get("securitySchemes", {}).values()
        # The credential headers, as the spec's apiKey schemes name them (App-Id, App-Token).
        self.credentials = [s["name"] for s in schemes if s.get("type") == "apiKey" and s.get("in") == "header"]

    def render(self, problem: ApiProblem, method: str) -> ErrorResponse:
        kind = problem.kind
        if kind is Kind.INVALID_REQUEST:
            return self._invalid(problem.errors)
        if kind is Kind.UNAUTHENTICATED:
            reason = "INVALID_CREDENTIALS" if problem.credentials_presented else "MISSING_CREDENTIALS"
            names = " and ".join(self.credentials)
            detail = _detail(self.credentials, "header", reason, f"{names} must both be given and valid.")
            return _v3(403, "NOT_AUTHORIZED", f"The provided {names} are not authorized.", [detail])
        if kind is Kind.NOT_FOUND:
            if problem.resource_param:
                detail = _detail(
                    [problem.resource_param],
                    "path",
                    "RESOURCE_NOT_FOUND",
                    f"No billing statement has {problem.resource_param} '{_echo(problem.detail)}'.",
                )
                return _v3(404, "NOT_FOUND", "The requested billing statement was not found.", [detail])
            return _v3(404, "NOT_FOUND", "The requested resource does not exist.", [])
        if kind is Kind.METHOD_NOT_ALLOWED:
            response = _v3(405, "NOT_FOUND", f"Method {_echo(method)} is not allowed on this resource.", [])
            response.headers["Allow"] = ", ".join(problem.allow)
            return response
        if kind is Kind.THROTTLED:
            wait = problem.retry_after or 1
            detail = _detail(
                self.credentials[:1],
                "header",
                "APPLICATION_REQUEST_THROTTLE_EXCEEDED",
                "At most 30 requests per endpoint per account every 10 seconds.",
            )
            response = _v3(429, "THROTTLE_EXCEEDED", "Too many requests to this endpoint; retry later.", [detail])
            response.headers["Retry-After"] = str(wait)
            return response
        return _v3(500, "UNEXPECTED_ERROR", "An unexpected error occurred. Retry later.", [])

    def _invalid(self, errors: tuple[FieldError, ...]) -> ErrorResponse:
        # Headers and the path are checked before the query string: report the earliest stage only.
        first = [e for e in errors if e.location != "query"] or list(errors)
        details = [
            _detail([e.name], e.location, _REASON_CODES.get(e.reason, "INVALID_PARAMETER_VALUE"), self._message(e))
            for e in first
        ]
        return _v3(400, "INVALID_PARAMS", "Invalid parameter(s).", details)

    @staticmethod
    def _message(error: FieldError) -> str:
        if error.message:
            return error.message
        name = error.name
        match error.reason:
            case Reason.MISSING:
                return f"{name} is required."
            case Reason.TYPE:
                return f"{name} must be of type {error.limit}."
            case Reason.MAXIMUM:
                return f"{name} must be less than or equal to {error.limit}."
            case Reason.MINIMUM:
                return f"{name} must be greater than or equal to {error.limit}."
            case Reason.ENUM:
                return f"{name} must be one of: {', '.join(map(str, error.limit))}."
            case Reason.MAX_LENGTH:
                return f"{name} must be at most {error.limit} characters long."
            case Reason.MIN_LENGTH:
                return f"{name} must be at least {error.limit} characters long."
            case Reason.INVALID_CURSOR:
                return "page is not a cursor issued by this server for this collection."
            case Reason.NOT_ALLOWED_WITH_CURSOR:
                return f"{name} cannot be combined with page: the cursor already carries it."
        return f"{name} is invalid."


def _detail(target: list[str], location: str, reason_code: str, message: str) -> dict[str, Any]:
    return {"target": target, "target_type": _TARGET_TYPES[location], "reason_code": reason_code, "message": message}


def _v3(status: int, code: str, message: str, details: list[dict[str, Any]]) -> ErrorResponse:
    return ErrorResponse(status, {"error_code": code, "error_message": message, "details": details})
