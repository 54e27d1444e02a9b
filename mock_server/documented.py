"""The spec's documented answers, for a client that asks for one (`Prefer: code=`, `example=`): the
response object for the status, its named (or first) example as the body, and a value for each
required header from its schema. Named examples are served verbatim."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.responses import Response

from billing_contract.spec import Spec


class DocumentedResponses:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def statuses(self, operation_id: str) -> tuple[int, ...]:
        return self.spec.operations[operation_id].statuses

    def examples(self, operation_id: str, status: int) -> list[str]:
        media = self.spec.response(operation_id, status).get("content", {}).get("application/json", {})
        return list(media.get("examples", {}))

    def response(self, operation_id: str, status: int, example: str | None) -> Response:
        documented = self.spec.response(operation_id, status)
        body = orjson.dumps(self.spec.example(operation_id, status, example))
        response = Response(body, status, media_type="application/json")
        for name, header in (documented.get("headers") or {}).items():
            if header.get("required"):
                response.headers[name] = _header_value(header.get("schema", {}))
        return response


def _header_value(schema: dict[str, Any]) -> str:
    if schema.get("enum"):
        return str(schema["enum"][0])
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return str(max(1, schema.get("minimum", 1)))
    return "mock"
