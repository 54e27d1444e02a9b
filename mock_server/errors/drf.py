"""Django REST Framework's error bodies (Mifumo): `{"detail": ...}` and field-error maps.

Fixed bodies (DRF's `Invalid page.`, simplejwt's `token_not_valid`, the `WWW-Authenticate` challenge)
are the contract's own named examples and enums, read from the spec.
"""

from __future__ import annotations

from billing_contract.spec import Spec
from mock_server.errors.envelope import GATEWAY_STATUS, ErrorResponse, component_example, echo
from mock_server.errors.problem import ApiProblem, FieldError, Kind, Reason


class DrfEnvelope:
    """Django REST Framework (Mifumo): `{"detail": ...}` and field-error maps."""

    # DRF's PageNumberPagination.page_query_param: its errors are "Invalid page." 404s, not 400s.
    page_param = "page"

    def __init__(self, spec: Spec) -> None:
        self.not_provided = component_example(spec, "MifumoUnauthorized", "notProvided")
        # simplejwt's three refusals of a presented Bearer header, by TokenError value.
        self.token_refusals = {
            "invalid": component_example(spec, "MifumoUnauthorized", "tokenNotValid"),
            "expired": component_example(spec, "MifumoUnauthorized", "tokenExpired"),
            "bad_authorization_header": component_example(spec, "MifumoUnauthorized", "badAuthorizationHeader"),
        }
        self.invalid_page = component_example(spec, "MifumoInvalidPage", "invalidPage")
        self.server_error = component_example(spec, "MifumoServerError", "serverError")
        challenge = spec.resolve(spec.document["components"]["headers"]["WWWAuthenticate"])
        self.challenge = challenge["schema"]["enum"][0]

    def render(self, problem: ApiProblem, method: str) -> ErrorResponse:
        kind = problem.kind
        if kind is Kind.INVALID_REQUEST:
            if not problem.errors:  # not about one field: DRF's non-field errors key
                return ErrorResponse(400, {"non_field_errors": [problem.detail or "Malformed request."]})
            return self._invalid(problem.errors)
        if kind is Kind.UNAUTHENTICATED:
            if problem.credentials_presented:
                body = self.token_refusals.get(problem.token_error or "invalid", self.token_refusals["invalid"])
            else:
                body = self.not_provided
            return ErrorResponse(401, body, {"WWW-Authenticate": self.challenge})
        if kind is Kind.NOT_FOUND:
            return ErrorResponse(404, {"detail": "Not found."})
        if kind is Kind.METHOD_NOT_ALLOWED:
            return ErrorResponse(
                405, {"detail": f'Method "{echo(method)}" not allowed.'}, {"Allow": ", ".join(problem.allow)}
            )
        if kind is Kind.THROTTLED:
            wait = problem.retry_after or 1
            return ErrorResponse(
                429,
                {"detail": f"Request was throttled. Expected available in {wait} seconds."},
                {"Retry-After": str(wait)},
            )
        if kind in GATEWAY_STATUS:
            return ErrorResponse(GATEWAY_STATUS[kind], {"detail": problem.detail})
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
                return f"Select a valid choice. {echo(error.value)} is not one of the available choices."
            case Reason.MAX_LENGTH:
                return f"Ensure this field has no more than {error.limit} characters."
            case Reason.MIN_LENGTH:
                return (
                    "This field may not be blank."
                    if error.value == ""
                    else (f"Ensure this field has at least {error.limit} characters.")
                )
        return "Enter a valid value."
