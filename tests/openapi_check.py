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
    """Checks every response of a documented operation against the spec's response objects."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.openapi = OpenAPI.from_dict(spec.document)
        # openapi-core matches the request host against the path's servers: present each request there.
        self.servers = {
            op.path: spec.document["paths"][op.path].get("servers", spec.document["servers"])[0]["url"]
            for op in spec.operations.values()
        }

    def _server_for(self, path: str) -> str | None:
        for template, server in self.servers.items():
            prefix = template.split("{", 1)[0]
            if path == template or ("{" in template and path.startswith(prefix) and "/" not in path[len(prefix) :]):
                return server
        return None

    def validate(self, response: httpx.Response) -> None:
        request = response.request
        server = self._server_for(request.url.path)
        if server is None or request.method not in ("GET",):
            return
        openapi_request = _Request(
            host_url=server,
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
