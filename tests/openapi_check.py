"""Validate real httpx responses against the contract with openapi-core (an independent checker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from billing_contract.spec import Spec


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    content_type: str = "application/json"
    body: bytes | None = None


@dataclass
class _Response:
    status_code: int
    data: bytes
    content_type: str
    headers: Headers = field(default_factory=Headers)


class ContractValidator:
    """Checks every response of a documented operation against the spec's response objects, read from the
    contract file as written: each path's `{origin}` server matches the mock on whatever port it runs."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.openapi = OpenAPI.from_dict(spec.document)
        self.documented = {(op.method.upper(), op.path) for op in spec.operations.values()}

    def _documented(self, method: str, path: str) -> bool:
        for documented_method, template in self.documented:
            prefix = template.split("{", 1)[0]
            matches = path == template or (
                "{" in template and path.startswith(prefix) and "/" not in path[len(prefix) :]
            )
            if matches and documented_method == method:
                return True
        return False

    def validate(self, response: httpx.Response) -> None:
        request = response.request
        if not self._documented(request.method, request.url.path):
            return
        openapi_request = _Request(
            host_url=f"{request.url.scheme}://{request.url.netloc.decode()}",
            path=request.url.path,
            method=request.method.lower(),
            parameters=RequestParameters(
                query=ImmutableMultiDict(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
                header=Headers(dict(request.headers)),
            ),
        )
        openapi_response = _Response(
            status_code=response.status_code,
            data=response.content,
            content_type=response.headers.get("content-type", ""),
            headers=Headers(dict(response.headers)),
        )
        self.openapi.validate_response(openapi_request, openapi_response)


def validating_hook(validator: ContractValidator) -> Any:
    def hook(response: httpx.Response) -> None:
        response.read()
        validator.validate(response)

    return hook
