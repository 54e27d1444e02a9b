"""One app-wide error handler: any exception becomes an `ApiProblem`, rendered in the owning API's body.

Connexion's handlers are app-wide and answer `application/problem+json`; here the request path picks
the API (through the spec's tags) and so the envelope, for contract routes and unknown routes alike.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import orjson
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

from billing_contract.facts import MIFUMO, TAGS, WEPAY
from billing_contract.spec import Spec
from mock_server.errors.drf import DrfEnvelope
from mock_server.errors.envelope import GATEWAY_STATUS, Envelope, ErrorResponse
from mock_server.errors.problem import ApiProblem, Kind
from mock_server.errors.reasons import problem_reasons
from mock_server.errors.v3 import V3Envelope
from mock_server.pipeline.scope import set_reason
from mock_server.security import Credentials, bearer_accepted, credentials_presented, same_secret, token_error

logger = logging.getLogger("billing_mock.errors")

# Which envelope each tag of the contract speaks.
ENVELOPES_BY_TAG: dict[str, type[DrfEnvelope] | type[V3Envelope]] = {TAGS[MIFUMO]: DrfEnvelope, TAGS[WEPAY]: V3Envelope}


class FallbackEnvelope:
    """Paths that belong to neither API (`/`, `/favicon.ico`): a plain DRF-like body."""

    def render(self, problem: ApiProblem, method: str) -> ErrorResponse:
        statuses = {Kind.NOT_FOUND: 404, Kind.METHOD_NOT_ALLOWED: 405, Kind.INVALID_REQUEST: 400, **GATEWAY_STATUS}
        status = statuses.get(problem.kind, 500)
        headers = {"Allow": ", ".join(problem.allow)} if problem.allow else {}
        return ErrorResponse(status, {"detail": "Not found." if status == 404 else problem.detail or "Error."}, headers)


class ErrorRenderer:
    def __init__(self, spec: Spec, credentials: Credentials | None = None) -> None:
        self.spec = spec
        # To say which credential was refused (the request log's reason); never shown, only compared.
        self.credentials = credentials
        self.envelopes: dict[str, Envelope] = {tag: cls(spec) for tag, cls in ENVELOPES_BY_TAG.items()}
        self.fallback = FallbackEnvelope()
        self._schemes_by_tag = {tag: self._security_schemes(tag) for tag in self.envelopes}

    def _security_schemes(self, tag: str) -> list[Mapping[str, object]]:
        schemes = self.spec.document.get("components", {}).get("securitySchemes", {})
        names: list[str] = []
        for op in self.spec.operations.values():
            if op.tag == tag:
                for requirement in op.raw.get("security", self.spec.document.get("security", [])):
                    names.extend(n for n in requirement if n not in names)
        return [schemes[n] for n in names]

    def envelope_for(self, path: str) -> tuple[str | None, Envelope]:
        tag = self.spec.tag_of_path(path)
        return tag, self.envelopes.get(tag or "", self.fallback)

    def to_problem(self, exc: Exception, tag: str | None, headers: Mapping[str, str]) -> ApiProblem:
        if isinstance(exc, ApiProblem):
            return exc
        status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
        if isinstance(exc, (ProblemException, HTTPException)) and isinstance(status, int):
            if status in (401, 403):
                return self.unauthenticated(tag, headers, status == 403)
            if status == 404:
                return ApiProblem(Kind.NOT_FOUND)
            if status == 405:
                allow = (getattr(exc, "headers", None) or {}).get("Allow", "GET, HEAD")
                return ApiProblem(Kind.METHOD_NOT_ALLOWED, allow=tuple(a.strip() for a in allow.split(",")))
            if 400 <= status < 500:
                detail = getattr(exc, "detail", "") or ""
                return ApiProblem(Kind.INVALID_REQUEST, detail=str(detail)[:200])
        logger.error("unhandled error: %r", exc, exc_info=exc)
        return ApiProblem(Kind.SERVER_ERROR)

    def unauthenticated(self, tag: str | None, headers: Mapping[str, str], presented: bool = False) -> ApiProblem:
        """The credentials check's refusal of these headers: whether credentials were presented at all and,
        for a bearer token, simplejwt's reason (the bodies differ)."""
        presented = presented or credentials_presented(self._schemes_by_tag.get(tag or "", []), headers)
        authorization = headers.get("authorization")
        reason = token_error(authorization, time.time()).value if presented and authorization else None
        return ApiProblem(Kind.UNAUTHENTICATED, credentials_presented=presented, token_error=reason)

    def render(
        self, path: str, method: str, headers: Mapping[str, str], exc: Exception, scope: Scope | None = None
    ) -> ErrorResponse:
        """The API's answer to `exc`; with the request's `scope`, why it was refused is recorded there too
        (for the request log and the access line)."""
        tag, envelope = self.envelope_for(path)
        problem = self.to_problem(exc, tag, headers)
        if scope is not None:
            schemes = self._schemes_by_tag.get(tag or "", [])
            set_reason(scope, problem_reasons(problem, method, path, headers, schemes, self._accepted))
        return envelope.render(problem, method)

    def _accepted(self, header: str, value: str) -> bool:
        """Whether a presented credential header holds the configured value."""
        if self.credentials is None:
            return False
        if header.lower() == "authorization":
            return bearer_accepted({"authorization": value}, self.credentials)
        expected = self.credentials.expected_api_key(header)
        return expected is not None and same_secret(value, expected)

    def response(self, scope: Scope, problem: ApiProblem) -> Response:
        """A problem found outside connexion (a bad `Prefer`, an undocumented path), as a response."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        rendered = self.render(scope["path"], scope["method"], headers, problem, scope)
        return Response(orjson.dumps(rendered.body), rendered.status, rendered.headers, "application/json")

    async def __call__(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        rendered = self.render(request.url.path, request.method, request.headers, exc, request.scope)
        return ConnexionResponse(
            status_code=rendered.status,
            body=orjson.dumps(rendered.body),
            mimetype="application/json",
            content_type="application/json",
            headers=rendered.headers,
        )
