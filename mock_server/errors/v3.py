"""WePay v3's error envelope: `{"error_code", "error_message", "details": [...]}`.

The fixed texts are the contract's named examples (each error response's `error_message`, and the
detail messages of the credential and throttle errors); what varies with the request (which field,
which bound) is worded here.
"""

from __future__ import annotations

from typing import Any

from billing_contract.spec import Spec
from mock_server.errors.envelope import GATEWAY_STATUS, ErrorResponse, component_example, echo
from mock_server.errors.problem import ApiProblem, FieldError, Kind, Reason

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
        # The credential headers, as the spec's apiKey schemes name them (App-Id, App-Token).
        self.credentials = list(spec.facts.credential_headers)
        self.invalid_params = component_example(spec, "WePayInvalidParams", "pageSizeTooLarge")
        self.not_authorized = component_example(spec, "WePayNotAuthorized", "notAuthorized")
        self.not_found = component_example(spec, "WePayNotFound", "notFound")
        self.throttled = component_example(spec, "WePayThrottled", "throttled")
        self.unexpected = component_example(spec, "WePayUnexpectedError", "unexpected")

    def render(self, problem: ApiProblem, method: str) -> ErrorResponse:
        kind = problem.kind
        if kind is Kind.INVALID_REQUEST:
            return self._invalid(problem.errors)
        if kind is Kind.UNAUTHENTICATED:
            reason = "INVALID_CREDENTIALS" if problem.credentials_presented else "MISSING_CREDENTIALS"
            message = self.not_authorized["details"][0]["message"]
            detail = _detail(self.credentials, "header", reason, message)
            return _v3(403, self.not_authorized["error_code"], self.not_authorized["error_message"], [detail])
        if kind is Kind.NOT_FOUND:
            if problem.resource_param:
                detail = _detail(
                    [problem.resource_param],
                    "path",
                    "RESOURCE_NOT_FOUND",
                    f"No billing statement has {problem.resource_param} '{echo(problem.detail)}'.",
                )
                return _v3(404, self.not_found["error_code"], self.not_found["error_message"], [detail])
            return _v3(404, self.not_found["error_code"], "The requested resource does not exist.", [])
        if kind is Kind.METHOD_NOT_ALLOWED:
            # v3 documents no code for a method not allowed: the resource is not found for that method,
            # for the reason the contract's description names (METHOD_NOT_ALLOWED).
            message = f"Method {echo(method)} is not allowed on this resource."
            detail = _detail(["method"], "path", "METHOD_NOT_ALLOWED", message)
            response = _v3(405, self.not_found["error_code"], message, [detail])
            response.headers["Allow"] = ", ".join(problem.allow)
            return response
        if kind is Kind.THROTTLED:
            wait = problem.retry_after or 1
            example = self.throttled["details"][0]
            detail = _detail(self.credentials[:1], "header", example["reason_code"], example["message"])
            response = _v3(429, self.throttled["error_code"], self.throttled["error_message"], [detail])
            response.headers["Retry-After"] = str(wait)
            return response
        if kind in GATEWAY_STATUS:  # retryable, as v3 5xx errors are
            return _v3(GATEWAY_STATUS[kind], self.unexpected["error_code"], problem.detail, [])
        return _v3(500, self.unexpected["error_code"], self.unexpected["error_message"], [])

    def _invalid(self, errors: tuple[FieldError, ...]) -> ErrorResponse:
        # Headers and the path are checked before the query string: report the earliest stage only.
        first = [e for e in errors if e.location != "query"] or list(errors)
        details = [
            _detail([e.name], e.location, _REASON_CODES.get(e.reason, "INVALID_PARAMETER_VALUE"), self.message(e))
            for e in first
        ]
        return _v3(400, self.invalid_params["error_code"], self.invalid_params["error_message"], details)

    @staticmethod
    def message(error: FieldError) -> str:
        """One bad field in words (`page_size must be less than or equal to 500.`)."""
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
