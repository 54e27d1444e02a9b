"""Request parameter validation, plugged into connexion's validator map.

Connexion's own validator stops at the first bad parameter, rebuilds a jsonschema validator (with a
deep copy of the schema) on every request, and reports free text. This one compiles each parameter's
schema once, checks every parameter, and raises one `ApiProblem` listing every `FieldError`, so each
API can answer all bad fields together in its own words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connexion.lifecycle import ConnexionRequest
from connexion.validators import ParameterValidator
from jsonschema import Draft4Validator
from starlette.types import Scope

from mock_server.connexion_fastpath import SharedQueryRequest
from mock_server.errors import ApiProblem, FieldError, Kind, Location, Reason

_FORMAT_CHECKER = Draft4Validator.FORMAT_CHECKER
_REASONS = {reason.value: reason for reason in Reason}
_LOCATIONS: tuple[Location, ...] = ("header", "path", "query")

# Django's DATA_UPLOAD_MAX_NUMBER_FIELDS: more query fields than this is a 400 (TooManyFieldsSent).
# Connexion builds its query dict in O(n^2) (`getlist` per distinct key), so without this bound one
# ~50 KB request with 10,000 distinct parameters holds the event loop for about a minute.
MAX_QUERY_FIELDS = 1000


def count_query_fields(query_string: bytes) -> int:
    """How many `name[=value]` fields a raw query string holds, in linear time (empty pieces skipped)."""
    return sum(1 for piece in query_string.replace(b";", b"&").split(b"&") if piece)


def check_query_size(query_string: bytes) -> None:
    if count_query_fields(query_string) > MAX_QUERY_FIELDS:
        raise ApiProblem(
            Kind.INVALID_REQUEST,
            detail=f"The number of GET/POST parameters exceeded {MAX_QUERY_FIELDS}.",
        )


# Values a parameter's check remembers: a verdict is a pure function of the value, and clients send the
# same few values (page sizes, versions, filters) over and over.
_VERDICTS_PER_PARAMETER = 4096


class CompiledParameter:
    __slots__ = ("location", "name", "required", "validator", "verdicts")

    def __init__(self, parameter: Mapping[str, Any]) -> None:
        self.location: Location = parameter["in"]
        self.name: str = parameter["name"]
        self.required = bool(parameter.get("required"))
        self.validator = Draft4Validator(parameter.get("schema", {}), format_checker=_FORMAT_CHECKER)
        self.verdicts: dict[tuple[type, Any], FieldError | None] = {}

    def check(self, value: Any) -> FieldError | None:
        if value is None:
            return FieldError(self.location, self.name, Reason.MISSING) if self.required else None
        try:
            key = (type(value), value)  # 1 and True (and "1") are different values to a schema
            return self.verdicts[key]
        except KeyError:
            verdict = self._judge(value)
            if len(self.verdicts) < _VERDICTS_PER_PARAMETER:
                self.verdicts[key] = verdict
            return verdict
        except TypeError:  # an unhashable value (an array or object parameter): judged every time
            return self._judge(value)

    def _judge(self, value: Any) -> FieldError | None:
        error = next(iter(self.validator.iter_errors(value)), None)
        if error is None:
            return None
        reason = _REASONS.get(str(error.validator), Reason.INVALID)
        return FieldError(self.location, self.name, reason, value=value, limit=error.validator_value)


# Keyed by the identity of connexion's per-operation parameter list, which lives as long as the app.
_compiled: dict[int, tuple[Sequence[Mapping[str, Any]], tuple[CompiledParameter, ...]]] = {}


def compile_parameters(parameters: Sequence[Mapping[str, Any]]) -> tuple[CompiledParameter, ...]:
    entry = _compiled.get(id(parameters))
    if entry is None or entry[0] is not parameters:
        compiled = tuple(CompiledParameter(p) for p in parameters if p.get("in") in _LOCATIONS)
        entry = (parameters, compiled)
        _compiled[id(parameters)] = entry
    return entry[1]


def find_errors(parameters: tuple[CompiledParameter, ...], request: ConnexionRequest) -> list[FieldError]:
    sources: dict[str, Any] = {
        "query": request.query_params,
        "path": request.path_params,
        "header": request.headers,
    }
    errors = []
    for parameter in parameters:
        error = parameter.check(sources[parameter.location].get(parameter.name))
        if error is not None:
            errors.append(error)
    return errors


class CollectingParameterValidator(ParameterValidator):
    """Drop-in for connexion's `ParameterValidator` that reports every bad parameter at once."""

    def __init__(self, parameters, uri_parser, strict_validation=False, security_query_params=None) -> None:
        super().__init__(parameters, uri_parser, strict_validation, security_query_params)
        self._compiled = compile_parameters(parameters)

    def validate(self, scope: Scope) -> None:
        self.validate_request(SharedQueryRequest(scope, uri_parser=self.uri_parser))

    def validate_request(self, request: ConnexionRequest) -> None:
        check_query_size(request.scope.get("query_string", b""))  # before connexion parses the query
        errors = find_errors(self._compiled, request)
        if errors:
            raise ApiProblem(Kind.INVALID_REQUEST, tuple(errors))
