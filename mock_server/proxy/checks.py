"""The contract's rules applied to one relayed exchange: the same code as the mock's and the suite's.

* Request side: the mock's own parameter validator (every bad parameter, `mock_server.validation`) and
  its credentials-present test (`mock_server.security`); the proxy only checks that credentials are
  there, never their values, which only the upstream knows.
* Response side: the suite's single-exchange rules (`billing_contract.profiles.check_exchange`): documented
  status, body schema with every error, error envelopes, Mifumo links and counts, WePay `api_version`
  echo and `X-Correlation-Id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from billing_contract import profiles
from billing_contract.spec import Operation, Spec
from mock_server.compiled import PlannedRequest, QueryReader
from mock_server.connexion_fastpath import CachingURIParser
from mock_server.errors.v3 import V3Envelope
from mock_server.proxy.exchange import RelayedExchange
from mock_server.security import credentials_presented
from mock_server.validation import compile_parameters, find_errors

REQUEST_RULES = ("request-parameters", "request-credentials")


@dataclass(frozen=True)
class Finding:
    side: str  # "request" | "response"
    rule: str
    message: str


class OperationChecks:
    """What the proxy checks for one operation, prepared once from the spec."""

    def __init__(self, spec: Spec, operation: Operation) -> None:
        self.spec = spec
        self.operation = operation
        self.parameters: list[dict[str, Any]] = spec.parameters(operation.operation_id)
        self.compiled = compile_parameters(self.parameters)
        self.query = QueryReader(CachingURIParser(self.parameters, {}))
        schemes = spec.document.get("components", {}).get("securitySchemes", {})
        requirement = (operation.raw.get("security") or spec.document.get("security") or [{}])[0]
        self.schemes = [schemes[name] for name in requirement]

    def request(self, scope: Mapping[str, Any], path_params: dict[str, str]) -> list[Finding]:
        request = PlannedRequest.read(scope, path_params, self.query)  # read as the mock's compiled path reads it
        findings = [
            Finding("request", "request-parameters", f"{error.location} parameter {V3Envelope.message(error)}")
            for error in find_errors(self.compiled, request)
        ]
        if not credentials_presented(self.schemes, request.headers):
            names = ", ".join(_scheme_label(s) for s in self.schemes)
            findings.append(Finding("request", "request-credentials", f"the request should carry {names}"))
        return findings

    def response(self, exchange: RelayedExchange) -> list[Finding]:
        return [
            Finding("response", v.rule, f"{v.message}; expected {v.expected}; got {v.got}")
            for v in profiles.check_exchange(self.spec, self.operation.operation_id, exchange)
        ]


def _scheme_label(scheme: Mapping[str, Any]) -> str:
    if scheme.get("type") == "http":
        return f"Authorization: {str(scheme.get('scheme', '')).capitalize()} <token>"
    return str(scheme.get("name"))
