"""The contract, loaded once: the raw OpenAPI document plus the lookups code needs from it.

Everything the fixtures, the mock and the suite know about parameters, bounds, enums, fixed error
bodies and which API owns a path is read from here, so `specs/openapi.yaml` stays the single source
of truth.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from billing_contract.documents import SPEC_PATH as DEFAULT_SPEC_PATH
from billing_contract.facts import THROTTLED_RESPONSE, ApiFacts, RateLimit

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# A parameter schema's value for an absent parameter where a schema `default` would be sent by generators.
SERVER_DEFAULT = "x-server-default"


# libyaml's loader parses the contract about ten times faster (a tenth of the default start-up).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecError(Exception):
    """The spec file is missing or is not a usable OpenAPI 3.0 document."""


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    tag: str
    raw: Mapping[str, Any]

    @property
    def label(self) -> str:
        """The operation as Schemathesis and the reports name it: `GET /billing_statements/{id}`."""
        return f"{self.method.upper()} {self.path}"

    @property
    def statuses(self) -> tuple[int, ...]:
        return tuple(int(code) for code in self.raw.get("responses", {}) if code.isdigit())


class Spec:
    """A resolved view of an OpenAPI 3.0 document."""

    def __init__(self, document: dict[str, Any], path: Path | None = None) -> None:
        self.document = document
        self.path = path
        self.operations: dict[str, Operation] = {op.operation_id: op for op in self._walk_operations()}

    @classmethod
    def load(cls, path: Path | str = DEFAULT_SPEC_PATH) -> Spec:
        path = Path(path)
        try:
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
        except OSError as exc:
            raise SpecError(f"cannot read spec {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise SpecError(f"spec {path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise SpecError(f"spec {path} is not valid YAML{at}: {problem}") from exc
        if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.0"):
            raise SpecError(f"spec {path} is not an OpenAPI 3.0.x document")
        if not isinstance(document.get("paths"), dict):
            raise SpecError(f"spec {path} has no paths")
        return cls(document, path)

    # -- lookups -------------------------------------------------------------------------------

    def resolve(self, node: Any) -> Any:
        """Inline every local `$ref` below `node` (the contract has no recursive schemas)."""
        if isinstance(node, dict):
            if "$ref" in node:
                return self.resolve(self._pointer(node["$ref"]))
            return {key: self.resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        return node

    def _pointer(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise SpecError(f"only local references are supported, got {ref!r}")
        node: Any = self.document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def schema(self, name: str) -> dict[str, Any]:
        return self.resolve(self.document["components"]["schemas"][name])

    def json_schema(self, name: str) -> dict[str, Any]:
        return to_json_schema(self.schema(name))

    def parameters(self, operation_id: str) -> list[dict[str, Any]]:
        return self.resolve(self.operations[operation_id].raw.get("parameters", []))

    def query_default(self, operation_id: str, name: str) -> Any:
        """The value the server applies when a query parameter is absent, or None if it states none.

        Read from the schema's `default` or, where the contract leaves `default` out so that generated
        clients do not send it (WePay's `page_size` and `currency`, which a cursor excludes), from its
        `x-server-default`.
        """
        parameter = next(p for p in self.parameters(operation_id) if p["in"] == "query" and p["name"] == name)
        schema = parameter.get("schema", {})
        return schema.get("default", schema.get(SERVER_DEFAULT))

    def documented_integer(self, operation_id: str, name: str) -> dict[str, Any]:
        """A query parameter's integer form with its bounds and default: the schema itself, or its `type:
        integer` branch where the parameter also accepts other text (Mifumo's `page` and `page_size`, which
        DRF reads leniently)."""
        parameter = next(p for p in self.parameters(operation_id) if p["in"] == "query" and p["name"] == name)
        schema = parameter.get("schema", {})
        branches = schema.get("anyOf", [schema])
        integer = next(branch for branch in branches if branch.get("type") == "integer")
        default = schema.get("default", integer.get("default"))
        return {**integer, **({"default": default} if default is not None else {})}

    def response(self, operation_id: str, status: int) -> dict[str, Any]:
        return self.resolve(self.operations[operation_id].raw["responses"][str(status)])

    def example(self, operation_id: str, status: int, name: str | None = None) -> Any:
        """A named example of a documented response (the first one when no name is given)."""
        examples = self.response(operation_id, status)["content"]["application/json"].get("examples", {})
        if not examples:
            raise KeyError(f"{operation_id} documents no example for {status}")
        chosen = examples[name] if name is not None else next(iter(examples.values()))
        return copy.deepcopy(chosen["value"])

    def response_header_enum(self, operation_id: str, status: int, header: str) -> list[Any]:
        return self.response(operation_id, status)["headers"][header]["schema"]["enum"]

    def documents_path(self, path: str) -> bool:
        """Whether a request path matches one of the spec's path templates exactly (no slash tolerance)."""
        return any(pattern.fullmatch(path) for pattern in self._path_patterns)

    @functools.cached_property
    def facts(self) -> ApiFacts:
        """The API facts the spec states (credential headers, versions, rate limit)."""
        components: dict[str, Any] = self.document.get("components", {})
        schemes = components.get("securitySchemes", {}).values()
        bearer = next(s for s in schemes if s.get("type") == "http" and s.get("scheme", "").lower() == "bearer")
        headers = tuple(s["name"] for s in schemes if s.get("type") == "apiKey" and s.get("in") == "header")
        version = components["parameters"]["ApiVersion"]
        limit = components["responses"][THROTTLED_RESPONSE]["x-rate-limit"]
        return ApiFacts(
            bearer_scheme=bearer["scheme"].capitalize(),
            credential_headers=headers,
            version_header=version["name"],
            api_versions=tuple(self.resolve(version["schema"])["enum"]),
            rate_limit=RateLimit(int(limit["requests"]), float(limit["window-seconds"])),
        )

    @functools.cached_property
    def _path_patterns(self) -> list[re.Pattern[str]]:
        return [_template_pattern(template) for template in self.document["paths"]]

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation a request names, with its path parameters (raw, as in the path), or None."""
        for operation, pattern in self._operation_patterns:
            if operation.method == method.lower():
                found = pattern.fullmatch(path)
                if found:
                    return operation, found.groupdict()
        return None

    @functools.cached_property
    def _operation_patterns(self) -> list[tuple[Operation, re.Pattern[str]]]:
        return [(op, _template_pattern(op.path, named=True)) for op in self.operations.values()]

    def tag_of_path(self, path: str) -> str | None:
        """The tag owning a request path: the spec path sharing its longest static prefix."""
        best, best_len = None, 0
        for op in self.operations.values():
            prefix = op.path.split("{", 1)[0]
            stem = prefix.rstrip("/")
            if (path == stem or path.startswith(stem + "/") or path.startswith(prefix)) and len(stem) > best_len:
                best, best_len = op.tag, len(stem)
        if best is None:
            first = "/" + path.strip("/").split("/", 1)[0]
            for op in self.operations.values():
                if op.path.startswith(first) and first != "/":
                    return op.tag
        return best

    def _walk_operations(self) -> Iterator[Operation]:
        for path, item in self.document["paths"].items():
            for method in HTTP_METHODS:
                raw = item.get(method)
                if raw is None:
                    continue
                if "operationId" not in raw:
                    raise SpecError(f"{method.upper()} {path} has no operationId")
                tags = raw.get("tags") or ["default"]
                yield Operation(raw["operationId"], method, path, tags[0], raw)


def _template_pattern(template: str, named: bool = False) -> re.Pattern[str]:
    """A path template (`/billing_statements/{id}`) as a pattern; each parameter one path segment."""
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
        pattern += re.escape(literal)
        if name:
            pattern += f"(?P<{name}>[^/]+)" if named else "[^/]+"
    return re.compile(pattern)


_ANNOTATIONS = ("nullable", "example", "examples", "description", "format", "externalDocs")
_CHECKED_FORMATS = ("uuid", "date-time", "uri")


def to_json_schema(schema: Any) -> Any:
    """Turn an OpenAPI 3.0 schema object into plain JSON Schema (`nullable` becomes a null type)."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key not in _ANNOTATIONS:
            out[key] = to_json_schema(value)
    if schema.get("format") in _CHECKED_FORMATS:
        out["format"] = schema["format"]
    if schema.get("nullable"):
        if "type" not in out:
            return {"anyOf": [out, {"type": "null"}]}
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@functools.lru_cache(maxsize=8)
def load_spec(path: str = str(DEFAULT_SPEC_PATH)) -> Spec:
    return Spec.load(path)
