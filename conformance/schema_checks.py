"""Schema-level checks through Schemathesis 4's engine: every built-in check, per operation, seeded.

Each check's verdict is reported under its own name per operation: failed if any case failed it, passed
if a case *exercised* it and none failed, skipped (with the reason) if no case did. Schemathesis counts a
check as passed on every case it is run on, even where it has nothing to look at (`unsupported_method` on
a GET, `negative_data_rejection` on valid data); `EXERCISED` says which cases each check really tests.

A failure's repro is a curl command built from the request as sent, with the credentials shown as the
`${BILLING_…}` variables the suite reads them from; a body-schema failure lists every schema error
(through `billing_contract.rules`, the same code the semantic checks use).

A request Schemathesis has already sent in this run (same method, URL, headers and body; only GET, HEAD
and OPTIONS, which change nothing) is not sent again: its case gets the answer the first one got. The
coverage phase makes many such repeats (with the run's own credentials and `Api-Version`, every case
varying a header those replace is the default request again; `ignored_auth` sends the same requests
without credentials for every phase), so this cuts about a quarter of the phase's requests, and no case
is judged on anything but the answer to exactly its request.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import importlib
import itertools
import logging
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
import schemathesis.engine.run.probes as st_probes

# Loaded here rather than lazily inside the run: Schemathesis' OpenAPI support takes about a second to
# import the first time, which would otherwise be spent inside --deadline (before any request is sent).
import schemathesis.specs.openapi.schemas
import urllib3
from schemathesis.checks import CHECKS
from schemathesis.core.parameters import ParameterLocation
from schemathesis.engine import Status as EngineStatus
from schemathesis.engine import events, from_schema
from schemathesis.engine.run.unit._case import BudgetExpired
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario

from billing_contract import TAGS, facts, rules
from billing_contract.spec import Spec
from conformance import repro
from conformance.concurrency import Shared, WaitingGate, run_in_order, serialized_ast_parse
from conformance.config import SuiteConfig
from conformance.pacing import STOP, DeadlineExceeded, Interrupted, Lane
from conformance.recorded import RecordedExchange, from_interaction
from conformance.report import MAX_FINDINGS, CheckResult, Finding, Status
from conformance.tls import TlsSettings

# Schemathesis' own "time budget spent" interrupt, private to its engine: raised from the paced transport when
# --deadline is reached, Schemathesis ends the operation as "time limit reached" (keeping its results) rather
# than as an interrupted run. No public way to say that exists (its `max_time` splits a budget of its own into
# per-operation slices). Checked by tests/package/test_private_names.py.
PRIVATE_SCHEMATHESIS_SYMBOLS: tuple[tuple[str, str], ...] = (("schemathesis.engine.run.unit._case", "BudgetExpired"),)

# A cursor is only valid when the server issued it: a generated one is rightly a 400, so positive cases
# for the cursor-paginated list go without one (negative cases keep theirs).
UNGENERATABLE = {("GET", "/billing_statements"): facts.CURSOR_PARAM}
# Query values a backend may either read leniently or refuse, both conformant, which OpenAPI cannot say:
# Mifumo's empty `type` (django-filter: no filter; a serializer: 400) and a `page_size` outside its documented
# integer (DRF's paginator: the default or the maximum; a serializer: 400). Positive cases leave such a value
# out (the semantic check `mifumo_page_size` holds both answers to the contract).
EITHER_WAY = {("GET", "/api/billing/history/"): facts.GET_HISTORY}


def _either_way(spec: Spec, operation_id: str, name: str, value: Any) -> bool:
    parameter = next((p for p in spec.parameters(operation_id) if p["in"] == "query" and p["name"] == name), None)
    if parameter is None:
        return False
    if value == "" and parameter.get("allowEmptyValue"):
        return True
    if "anyOf" not in parameter.get("schema", {}) or name == "page":  # every page has one answer: 200 or 404
        return False
    bounds = spec.documented_integer(operation_id, name)
    try:
        number = int(str(value).strip())
    except ValueError:
        return True
    return not bounds.get("minimum", number) <= number <= bounds.get("maximum", number)


@functools.cache
def _contract() -> Spec:
    return Spec.load()


# What each Schemathesis check holds the API to, for the report's "expected" line.
EXPECTATIONS = {
    "not_a_server_error": "no 5xx answer, whatever the input",
    "status_code_conformance": "a status code the operation documents",
    "content_type_conformance": "the documented Content-Type",
    "response_headers_conformance": "every documented response header, matching its schema",
    "response_schema_conformance": "a body matching the documented schema for its status",
    "negative_data_rejection": "invalid input rejected with a 4xx",
    "positive_data_acceptance": "valid input accepted (2xx, or 404 for an unknown id)",
    "ignored_auth": "requests without or with wrong credentials refused (401/403)",
    "missing_required_header": "a request missing a required header rejected (4xx)",
    "unsupported_method": "an undocumented method answered 405 with an Allow header",
    "allow_header_conformance": "Allow lists exactly the documented methods",
    "use_after_free": "a deleted resource stays gone",
    "ensure_resource_availability": "a created resource is available",
    "object_level_authorization": "no access to another owner's objects",
    "schema_request_errors": "a complete HTTP response to every generated request, within --timeout",
}
# Reported per operation when Schemathesis got no usable answer (its "errors", not check failures).
ERROR_CHECK = "schema_request_errors"
# Checks about resources the API creates and deletes: this read-only contract gives them nothing to test.
STATEFUL_ONLY = {"use_after_free", "ensure_resource_availability", "object_level_authorization"}
NOT_EXERCISED = {
    "unsupported_method": "no request with an undocumented method was sent",
    "allow_header_conformance": "no OPTIONS request answered with an Allow header",
    "negative_data_rejection": "no invalid input was sent",
    "positive_data_acceptance": "no valid input was sent",
    "missing_required_header": "no request without a required header was sent",
    "ignored_auth": "no request was accepted, so there was no credential to take away",
}
STATEFUL_REASON = "needs resources the API creates or deletes; this contract is read-only"
# Request headers that say nothing about the case; a repro leaves them out.
NOISE_HEADERS = {"user-agent", "accept", "accept-encoding", "connection", "content-length"}
# Schemathesis and Hypothesis import these inside functions, on first use. Engines starting side by side
# would import them from several threads at once, and a circular pair imported so can come out half-initialized
# (seen: "cannot import name 'iter_coverage_cases'"). `quiet_schemathesis` imports them first, in the thread
# starting the run; tests/conformance/test_concurrency.py checks that a run imports no other module of either.
LAZY_IMPORTS = (
    "hypothesis.internal.conjecture.optimiser",
    "hypothesis.strategies._internal.flatmapped",
    "hypothesis.strategies._internal.random",
    "schemathesis.engine._lazy",
    "schemathesis.engine.context",
    "schemathesis.engine.control",
    "schemathesis.engine.core",
    "schemathesis.engine.fuzz",
    "schemathesis.engine.health",
    "schemathesis.engine.observations",
    "schemathesis.engine.outage",
    "schemathesis.engine.run.analysis",
    "schemathesis.engine.run.auth_bootstrap",
    "schemathesis.engine.run.cache",
    "schemathesis.engine.run.stateful",
    "schemathesis.engine.run.unit._hypothesis_executor",
    "schemathesis.generation.dictionaries",
    "schemathesis.python._constants.adapters",
    "schemathesis.python._constants.adapters.django",
    "schemathesis.python._constants.adapters.flask",
    "schemathesis.python._constants.adapters.starlette",
    "schemathesis.python._constants.extract",
    "schemathesis.python._constants.filter",
    "schemathesis.python._constants.orchestrator",
    "schemathesis.python._constants.walk",
    "schemathesis.python._constants.warnings",
    "schemathesis.python.asgi",
    "schemathesis.specs.openapi._ordering",
    "schemathesis.specs.openapi.auth_flow.detection",
    "schemathesis.specs.openapi.auth_flow.vocabulary",
    "schemathesis.specs.openapi.auth_inference",
    "schemathesis.specs.openapi.coverage._operation",
    "schemathesis.specs.openapi.object_authorization",
    "schemathesis.transport.asgi",
    "schemathesis.transport.wsgi",
)
# Checks that judge the input sent (was it refused, accepted, answered without a 5xx?): each distinct input
# that fails one is its own finding. The other checks judge the answer: the same wrong answer to many
# inputs is one finding (a page body of the wrong shape is reported once, not once per case).
INPUT_CHECKS = {
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "ignored_auth",
    "unsupported_method",
    "not_a_server_error",
}
# Schemathesis' unit phases, in its own order (`engine_plans` splits them between engines).
PHASE_ORDER = ("examples", "coverage", "fuzzing")
# Methods whose repeats are answered from the first answer (they change nothing on the server).
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# What a serialized case may hold for its request to be told apart for sure (anything else: always sent).
KEYED_FIELDS = {"method", "url", "headers", "params", "cookies", "json", "data"}


def registered_checks() -> list[str]:
    """The names of every check Schemathesis runs on this contract, as its registry holds them."""
    return list(CHECKS.get_all_names())


def _scenario(case: Any) -> CoveragePhaseData | None:
    data = case.meta.phase.data if case.meta is not None else None
    return data if isinstance(data, CoveragePhaseData) else None


def exercised(name: str, case: Any, response: Any) -> bool:
    """Whether check `name` had something to test in this case (else its "pass" is vacuous)."""
    meta, data = case.meta, _scenario(case)
    method = (response.request.method if response is not None else case.method).upper()
    if name in STATEFUL_ONLY:
        return False
    if name == "unsupported_method":
        return bool(data and data.scenario == CoverageScenario.UNSPECIFIED_HTTP_METHOD and method != "OPTIONS")
    if name == "allow_header_conformance":
        return method == "OPTIONS" and response is not None and bool(response.headers.get("allow"))
    if name == "negative_data_rejection":
        return meta is not None and meta.generation.mode.is_negative
    if name == "positive_data_acceptance":
        return meta is not None and meta.generation.mode.is_positive
    if name == "missing_required_header":
        return bool(
            data
            and data.scenario == CoverageScenario.MISSING_PARAMETER
            and data.parameter_location == ParameterLocation.HEADER
        )
    if name == "ignored_auth":
        return response is not None and 200 <= response.status_code < 300
    return True


@dataclass(frozen=True)
class _Failure:
    """One failing case of a check: where it came in Schemathesis' order (phase, then case), and what it showed."""

    rank: tuple[int, int]
    title: str
    got: str
    curl: str
    status: int | None
    key: tuple[str, ...] = ()  # what makes it a distinct finding (INPUT_CHECKS: the input too)
    exchange: RecordedExchange | None = None


@dataclass
class _Tally:
    passed: int = 0
    failed: int = 0
    failures: list[_Failure] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    # Seconds spent on the cases the check was applied to (they are shared by every check of the operation).
    elapsed: float = 0.0

    def merge(self, other: _Tally) -> None:
        self.passed += other.passed
        self.failed += other.failed
        self.failures = sorted([*self.failures, *other.failures], key=lambda f: f.rank)
        self.cases += other.cases
        self.elapsed += other.elapsed

    @property
    def first_failure(self) -> _Failure | None:
        """The failure found first in Schemathesis' own order (examples, coverage, fuzzing)."""
        return self.failures[0] if self.failures else None

    def distinct(self) -> tuple[list[_Failure], int]:
        """The distinct failures in Schemathesis' order (at most MAX_FINDINGS) and how many more there were."""
        seen: set[tuple[str, ...]] = set()
        found: list[_Failure] = []
        for failure in self.failures:
            if failure.key not in seen:
                seen.add(failure.key)
                found.append(failure)
        return found[:MAX_FINDINGS], max(0, len(found) - MAX_FINDINGS)


@dataclass
class SchemaRun:
    results: list[CheckResult]
    fingerprints: dict[str, str]
    # A request found the deadline spent and Schemathesis was stopped: the phase is incomplete.
    deadline_reached: bool = False
    # Operations whose documented 200 body Schemathesis found breaking the schema.
    schema_broken_200: set[str] = field(default_factory=set)
    # The run was stopped from outside during the phase: what it had not decided is not passed.
    interrupted: bool = False


def drop_ungeneratable(context: Any, case: Any) -> Any:
    """Positive cases of the cursor-paginated list go without a cursor (a generated one is never issued), and
    without an empty value where the contract allows two answers to it."""
    key = (case.operation.method.upper(), case.operation.path)
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not case.query:
        return case
    cursor, either = UNGENERATABLE.get(key), EITHER_WAY.get(key)
    case.query = {
        k: v for k, v in case.query.items() if k != cursor and not (either and _either_way(_contract(), either, k, v))
    }
    return case


class _Answers:
    """The answers an API's Schemathesis runs got, one per distinct safe request, and the distinct
    requests each operation's cases were answered with (its results' `requests`)."""

    def __init__(self) -> None:
        self._shared: Shared[Any] = Shared()
        self._unshared = itertools.count()
        self._lock = threading.Lock()
        self.requests: dict[str, set[Hashable]] = defaultdict(set)

    def get(self, label: str, key: Hashable | None, send: Callable[[], Any]) -> Any:
        """`send()`'s answer, sent once per key (always sent when there is no key)."""
        with self._lock:
            self.requests[label].add(key if key is not None else next(self._unshared))
        return send() if key is None else self._shared.get(key, send)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {label: len(keys) for label, keys in self.requests.items()}


class _PacedTransport:
    """Schemathesis' requests transport behind the run's pacer (rate, deadline, 429s), through the API's lane.

    Schemathesis 4.32 has its own `rate-limit` (whole requests per second, bursts allowed) and waits out
    429s, but not both at once, not sharing the semantic checks' pacing and not bounded by our deadline;
    so every generated request goes through here instead. Its `max-time` is no deadline either (given one,
    the engine keeps cycling its phases until the time is spent), so none is given: once the deadline is
    spent this transport raises Schemathesis' own budget-expired interrupt, which ends each remaining
    operation at its first case without a verdict. A request already sent in this run is answered with
    its first answer (`_key`), and the distinct requests of each operation are counted.
    """

    def __init__(self, inner: Any, lane: Lane, answers: _Answers, observe: Callable[[float], None]) -> None:
        self._inner = inner
        self.lane = lane
        self.answers = answers
        self.deadline_reached = False
        self.interrupted = False
        # Told each answer's time on the wire (the engines' gate decides from them).
        self._observe = observe

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def send(self, case: Any, *, session: Any = None, **kwargs: Any) -> Any:
        key = self._key(case, session, kwargs)
        try:
            return self.answers.get(case.operation.label, key, lambda: self._send(case, session, kwargs))
        except Interrupted:
            self.interrupted = True
            raise BudgetExpired() from None
        except DeadlineExceeded:
            self.deadline_reached = True
            raise BudgetExpired() from None

    def _key(self, case: Any, session: Any, kwargs: dict[str, Any]) -> Hashable | None:
        """The request as the transport will send it (method, URL, query, headers but Schemathesis' own,
        body), for a safe method; None when it cannot be told for sure (then it is always sent). Two
        spellings of one request may get two keys (then both are sent); two requests never share one."""
        try:
            headers = dict(kwargs.get("headers") or {})
            for name, value in (getattr(session, "headers", None) or {}).items():
                headers.setdefault(name, value)  # as the transport merges the session's headers
            data = self._inner.serialize_case(
                case, headers=headers, params=kwargs.get("params"), cookies=kwargs.get("cookies")
            )
            if str(data["method"]).upper() not in SAFE_METHODS or set(data) - KEYED_FIELDS:
                return None
            sent = sorted(
                (str(k).lower(), str(v)) for k, v in (data.get("headers") or {}).items() if not _says_nothing(k)
            )
            fields = tuple(_canonical(data.get(name)) for name in ("params", "cookies", "json", "data"))
            return (str(data["method"]).upper(), str(data["url"]), tuple(sent), fields)
        except Exception:
            return None

    def _send(self, case: Any, session: Any, kwargs: dict[str, Any]) -> Any:
        requested = kwargs.get("timeout") or case.operation.schema.config.request_timeout_for(operation=case.operation)

        def send(timeout: float | None) -> Any:
            started = time.monotonic()
            try:
                return self._inner.send(case, session=session, **{**kwargs, "timeout": timeout})
            except requests.Timeout:
                left = self.lane.pacer.remaining()
                if left is not None and left <= 0.05:
                    # Cut short by the deadline rather than by --timeout: no verdict, not a failure.
                    raise DeadlineExceeded("overall deadline reached") from None
                raise
            finally:
                self._observe(time.monotonic() - started)

        def retry_after(response: Any) -> str | None:
            value = response.headers.get("retry-after")
            return (value[0] if value else None) if isinstance(value, list) else value

        return self.lane.send(send, lambda r: r.status_code, retry_after, requested)


def _canonical(value: Any) -> str:
    """A query, cookie jar or body as comparable text (a mapping in key order; anything else as written)."""
    if isinstance(value, dict):
        return repr(sorted(value.items(), key=repr))
    return repr(value)


def _says_nothing(header: str) -> bool:
    """Headers that do not make a request another one (Schemathesis' case ids, the client's own)."""
    return header.lower() in NOISE_HEADERS or header.lower().startswith("x-schemathesis")


def _pace(schema: Any, transport: _PacedTransport) -> Any:
    """`schema.transport` is a read-only property chosen from `schema.app`: give this one schema a subclass
    whose property answers the paced transport (the layout is unchanged, so the class can be swapped)."""
    cls = type(schema)
    schema.__class__ = type(cls.__name__, (cls,), {"__slots__": (), "transport": property(lambda _self: transport)})
    return schema


@contextlib.contextmanager
def quiet_schemathesis(tls: TlsSettings) -> Iterator[None]:
    """For a whole run, entered once by the thread that starts it, before any engine: no start-up probes,
    no urllib3 warning per request under --insecure, `ast.parse` one call at a time, and what Schemathesis
    imports on first use imported now. Each is process-wide state that engines in several threads would
    otherwise patch, restore or import over each other."""
    for name in LAZY_IMPORTS:
        importlib.import_module(name)
    with _no_probes(), _quiet_if_unverified(tls), serialized_ast_parse():
        yield


@contextlib.contextmanager
def _no_probes() -> Iterator[None]:
    """Schemathesis' start-up probes (NULL bytes in headers, odd paths) use their own session, which
    follows redirects and bypasses any transport; this contract needs neither, so none is sent."""
    original = st_probes.run
    st_probes.run = lambda _ctx: []
    try:
        yield
    finally:
        st_probes.run = original


@contextlib.contextmanager
def _quiet_if_unverified(tls: TlsSettings) -> Iterator[None]:
    """With --insecure, urllib3 warns on every request; the report says it once instead."""
    with warnings.catch_warnings():
        if not tls.verify:
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        yield


def _tls_config(tls: TlsSettings) -> dict[str, Any]:
    """The run's TLS settings as Schemathesis' options: they reach every request its transport sends."""
    settings: dict[str, Any] = {"tls-verify": tls.requests_verify()}
    if tls.client_cert:
        settings["request-cert"] = tls.client_cert
    if tls.client_key:
        settings["request-cert-key"] = tls.client_key
    return settings


def _schema_config(config: SuiteConfig, api: str, tls: TlsSettings, plan: EnginePlan) -> schemathesis.Config:
    project: dict[str, Any] = {
        **_tls_config(tls),
        "seed": config.seed,
        "base-url": config.url_for(api),
        "headers": config.auth_headers(api),
        "request-timeout": config.timeout,
        "generation": {"max-examples": config.max_examples, "deterministic": True, "database": "none"},
        # This engine's share of the unit phases, per operation (`EnginePlan`); stateful links need `links`,
        # which this contract has none of.
        "phases": {
            **{name: {"enabled": name in plan.all_phases} for name in PHASE_ORDER},
            "stateful": {"enabled": False},
        },
        "operations": plan.operations_config(_contract_operations(config)),
        # A redirect is the answer under test, never followed (not even to the same host).
        "max-redirects": 0,
        "checks": {name: {"enabled": False} for name in sorted(config.exclude_checks)},
        "workers": 1,
        # Every case of every operation runs, failures or not: all distinct failures are reported, and no
        # check is left unexercised because an earlier one failed.
        "continue-on-failure": True,
        # No state kept between runs; requests recorded as sent (the repro hides secrets itself).
        "cache": {"enabled": False},
        "output": {"sanitization": {"enabled": False}},
    }
    # No "max-time" and no "rate-limit": the paced transport applies the run's deadline and pacer.
    return schemathesis.Config.from_dict(project)


class _Sent:
    """A Schemathesis response seen through `rules.ExchangeLike`."""

    def __init__(self, response: Any) -> None:
        self.method = str(response.request.method)
        self.url = str(response.request.url)
        self.status = int(response.status_code)
        self.text = response.content.decode("utf-8", "replace")
        self._headers = {k.lower(): v for k, v in response.headers.items()}
        self._sent = {k.lower(): v for k, v in response.request.headers.items()}

    def header(self, name: str) -> str | None:
        value = self._headers.get(name.lower())
        return (value[0] if value else None) if isinstance(value, list) else value

    def sent(self, name: str) -> str | None:
        return self._sent.get(name.lower())


def curl_for(request: Any, secrets: dict[str, str]) -> str:
    """A repro for a recorded request (the headers that say nothing about the case left out)."""
    headers = [
        (name, value)
        for name, values in request.headers.items()
        if name.lower() not in NOISE_HEADERS and not name.lower().startswith("x-schemathesis")
        for value in (values if isinstance(values, list) else [values])
    ]
    return repro.curl(str(request.method), str(request.uri), headers, secrets)


@dataclass(frozen=True)
class EnginePlan:
    """One Schemathesis engine of an API's run: the phases each of its operations runs (an operation not
    named is off), and the phases whose findings it reports; the others only feed it answers (as the
    list's examples feed the statement-by-id cases the ids they answered)."""

    phases: tuple[tuple[str, tuple[str, ...]], ...]  # (operation id, its phases here)
    reports: tuple[str, ...]

    @property
    def all_phases(self) -> set[str]:
        return {phase for _, phases in self.phases for phase in phases}

    @property
    def operation_ids(self) -> list[str]:
        return [op for op, _ in self.phases]

    @property
    def per_operation(self) -> bool:
        """Whether its operations run different phases (then Schemathesis is told per operation, which costs
        it a merge of settings at every look-up; otherwise the schema is simply cut to its operations)."""
        return len({phases for _, phases in self.phases}) > 1

    def operations_config(self, operation_ids: list[str]) -> list[dict[str, Any]]:
        """Schemathesis' per-operation settings: this engine's phases for its operations, the others off."""
        if not self.per_operation:
            return []
        mine = dict(self.phases)
        return [
            {"include-operation-id": op, "phases": {name: {"enabled": name in mine[op]} for name in PHASE_ORDER}}
            if op in mine
            else {"include-operation-id": op, "enabled": False}
            for op in operation_ids
        ]


def engine_plans(layers: list[list[tuple[str, str]]]) -> list[EnginePlan]:
    """How an API's phases are split between engines that may run side by side, given its operations as
    (operation id, path) in Schemathesis' dependency layers (the list before the statement by id).

    The coverage phase, most of the requests, gets an engine per path: a path's operations stay in one
    engine, in order, because Schemathesis probes a path's undocumented methods under whichever of them
    comes first. An engine for a later layer first runs the examples phase of the earlier layers' operations,
    unreported, so that it learns the ids they answer as the one engine would have (checked: the same
    cases). The examples and fuzzing phases keep one engine for every operation. Each engine is
    deterministic, so the run is, whether the engines run one after another or side by side."""
    plans: list[EnginePlan] = []
    paths: dict[str, list[str]] = {}
    first_layer: dict[str, int] = {}
    for index, layer in enumerate(layers):
        for operation_id, path in layer:
            paths.setdefault(path, []).append(operation_id)
            first_layer.setdefault(path, index)
    for path, operations in paths.items():
        feeders = [op for layer in layers[: first_layer[path]] for op, _ in layer]
        phases = [*((op, ("examples",)) for op in feeders), *((op, ("coverage",)) for op in operations)]
        plans.append(EnginePlan(tuple(phases), ("coverage",)))
    every = [op for layer in layers for op, _ in layer]
    plans.append(EnginePlan(tuple((op, ("examples", "fuzzing")) for op in every), ("examples", "fuzzing")))
    return plans


def run_schema_checks(
    config: SuiteConfig,
    api: str,
    progress: Callable[[str], None],
    lane: Lane,
    spec: Spec | None = None,
    tls: TlsSettings | None = None,
    gate: WaitingGate | None = None,
    on_case: Callable[[str, int], None] | None = None,
) -> SchemaRun:
    """Every Schemathesis check on the API's operations (run `quiet_schemathesis` around it): its phases
    split between engines (`engine_plans`), side by side when --concurrency allows and `gate` (shared by
    the run's engines) lets them, their findings merged as if one engine had run the phases in
    Schemathesis' order. `on_case(operation, new failures)` after each reported case (progress lines)."""
    spec = spec or Spec.load(config.spec_path)
    tls = tls or TlsSettings.from_config(config)
    # Connexion-based servers log every unknown parameter Schemathesis sends; keep the output readable.
    logging.getLogger("connexion").setLevel(logging.ERROR)
    answers = _Answers()
    plans = engine_plans(_layers(spec, api))
    gate = gate or WaitingGate()
    engines = [
        functools.partial(_run_engine, config, api, lane, spec, tls, plan, answers, gate, on_case) for plan in plans
    ]
    parts = run_in_order(engines, len(engines) if config.concurrency > 1 else 1, lane.pacer.stop)
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    errors: dict[str, tuple[int, events.NonFatalError]] = {}
    scenario_time: dict[str, float] = defaultdict(float)
    for part in parts:
        for key, tally in part.tallies.items():
            tallies[key].merge(tally)
        for label, seconds in part.scenario_time.items():
            scenario_time[label] += seconds
        for label, (count, first) in part.errors.items():
            known, earlier = errors.get(label, (0, first))
            errors[label] = (known + count, min(earlier, first, key=_phase_rank))
    incomplete = any(part.deadline_reached for part in parts)
    interrupted = any(part.interrupted for part in parts) or STOP.is_set()
    sent = answers.counts()
    results, fingerprints = _results(api, tallies, config, incomplete, sent, interrupted)
    secrets = config.secrets()
    if ERROR_CHECK not in config.exclude_checks:
        for label, (count, first) in sorted(errors.items()):
            results.append(_error_result(api, label, count, first, secrets, sent.get(label, 0), scenario_time[label]))
    for result in results:
        progress(f"{api}: {result.check} on {result.operation} {result.status.value}")
    broken = {
        label
        for (label, name), tally in tallies.items()
        if name == "response_schema_conformance" and tally.first_failure and tally.first_failure.status == 200
    }
    return SchemaRun(results, fingerprints, incomplete, broken, interrupted)


@functools.cache
def _operation_ids(spec_path: str) -> tuple[str, ...]:
    return tuple(Spec.load(spec_path).operations)


def _contract_operations(config: SuiteConfig) -> list[str]:
    return list(_operation_ids(str(config.spec_path)))


def _layers(spec: Spec, api: str) -> list[list[tuple[str, str]]]:
    """The API's operations as (operation id, path), in the dependency layers Schemathesis orders them by."""
    schema = schemathesis.openapi.from_dict(copy.deepcopy(spec.document)).include(tag=TAGS[api])
    operations = [result.ok() for result in schema.get_all_operations()]
    return [
        [(op.definition.raw["operationId"], op.path) for op in layer]
        for layer in schema.get_operation_layers(operations)
    ]


@dataclass
class _EngineRun:
    """What one engine found: per (operation, check), the errors per operation, and whether the deadline cut it."""

    tallies: dict[tuple[str, str], _Tally]
    errors: dict[str, tuple[int, events.NonFatalError]]
    deadline_reached: bool
    interrupted: bool = False
    # Seconds per operation spent in its reported scenarios (the time of a `schema_request_errors` finding).
    scenario_time: dict[str, float] = field(default_factory=dict)


def _run_engine(
    config: SuiteConfig,
    api: str,
    lane: Lane,
    spec: Spec,
    tls: TlsSettings,
    plan: EnginePlan,
    answers: _Answers,
    gate: WaitingGate,
    on_case: Callable[[str, int], None] | None = None,
) -> _EngineRun:
    """One Schemathesis engine, as `plan` says, on a schema of its own (what Schemathesis learns from the
    answers, such as the ids the list returned, stays within this engine), when `gate` lets it run."""
    try:
        with gate.turn(lane.pacer.check):
            return _engine(config, api, lane, spec, tls, plan, answers, gate, on_case)
    except DeadlineExceeded:  # the deadline (or a stop) came while it waited its turn: not run
        return _EngineRun({}, {}, deadline_reached=True)


def _engine(
    config: SuiteConfig,
    api: str,
    lane: Lane,
    spec: Spec,
    tls: TlsSettings,
    plan: EnginePlan,
    answers: _Answers,
    gate: WaitingGate,
    on_case: Callable[[str, int], None] | None,
) -> _EngineRun:
    project = _schema_config(config, api, tls, plan)
    # The document already parsed (with libyaml when present): parsing it again costs a third of a second.
    schema = schemathesis.openapi.from_dict(copy.deepcopy(spec.document), config=project)
    if not plan.per_operation:  # (per-operation settings choose the operations themselves)
        schema = schema.include(operation_id=plan.operation_ids)
    transport = _PacedTransport(schema.transport, lane, answers, gate.observe)
    schema = _pace(schema, transport)
    schema.hook("map_case")(drop_ungeneratable)
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    errors: dict[str, tuple[int, events.NonFatalError]] = {}
    recorder = _Recorder(spec, config.secrets(), tallies)
    scenario_time: dict[str, float] = defaultdict(float)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.phase.value in plan.reports:
            failed_before = sum(tally.failed for tally in tallies.values())
            recorder.record(event.recorder)
            scenario_time[event.recorder.label] += event.elapsed_time or 0.0
            if on_case is not None:
                on_case(event.recorder.label, sum(tally.failed for tally in tallies.values()) - failed_before)
        elif isinstance(event, events.NonFatalError) and _reported(event, plan):
            count, first = errors.get(event.label, (0, event))
            errors[event.label] = (count + 1, first)
        elif isinstance(event, events.FatalError):
            raise RuntimeError(f"Schemathesis failed: {event.exception}") from event.exception
    return _EngineRun(dict(tallies), errors, transport.deadline_reached, transport.interrupted, dict(scenario_time))


def _phase_rank(event: events.NonFatalError) -> int:
    phase = str(event.phase.value) if event.phase is not None else ""
    return PHASE_ORDER.index(phase) if phase in PHASE_ORDER else len(PHASE_ORDER)


def _reported(event: events.NonFatalError, plan: EnginePlan) -> bool:
    """An error belongs to the engine reporting its phase (one outside any phase: to the examples' engine)."""
    phase = event.phase.value if event.phase is not None else "examples"
    return phase in plan.reports


def _error_result(
    api: str,
    label: str,
    count: int,
    event: events.NonFatalError,
    secrets: dict[str, str],
    requests: int = 0,
    elapsed: float = 0.0,
) -> CheckResult:
    """Schemathesis could not test an operation (no response: timeout, dropped connection...): a finding."""
    info = event.info
    return CheckResult(
        api,
        label,
        ERROR_CHECK,
        Status.FAILED,
        "schema",
        f"{info.title} ({count} scenario(s) could not be tested)",
        expected=EXPECTATIONS[ERROR_CHECK],
        got=info.message.strip(),
        curl=repro.hide_secrets((info.code_sample or "").strip(), secrets),
        requests=requests,
        duration=elapsed,
    )


@dataclass
class _Recorder:
    spec: Spec
    secrets: dict[str, str]
    tallies: dict[tuple[str, str], _Tally]
    # The order failures came in, within this engine.
    order: Iterator[int] = field(default_factory=itertools.count)

    def record(self, recorder: Any) -> None:
        for case_id, nodes in recorder.checks.items():
            case_node = recorder.cases.get(case_id)
            case = case_node.value if case_node is not None else None
            label = case.operation.label if case is not None else recorder.label
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction is not None else None
            elapsed = float(getattr(response, "elapsed", 0.0) or 0.0)
            for node in nodes:
                tally = self.tallies[(label, node.name)]
                tally.elapsed += elapsed
                if case is not None:
                    tally.cases.append(repr((case.method, case.path, case.path_parameters, case.query, case.headers)))
                if node.status == EngineStatus.FAILURE:
                    tally.failed += 1
                    self._failure(tally, node, case, interaction)
                elif node.status == EngineStatus.SUCCESS and case is not None and exercised(node.name, case, response):
                    tally.passed += 1

    def _failure(self, tally: _Tally, node: Any, case: Any, interaction: Any) -> None:
        if node.failure_info is None:
            return
        failure = node.failure_info.failure
        response = interaction.response if interaction and interaction.response else None
        status = response.status_code if response is not None else None
        got = (f"HTTP {status}: {failure.message}" if status else failure.message).strip()
        if node.name == "response_schema_conformance" and response is not None and case is not None:
            # Every schema error, not Schemathesis' first one.
            operation = rules.operation_of(self.spec, case.method, str(response.request.url))
            violations = rules.body_matches(self.spec, operation, _Sent(response)) if operation else []
            got = f"HTTP {status}: " + "; ".join(v.got for v in violations) if violations else got
        curl = curl_for(interaction.request, self.secrets) if interaction is not None else ""
        rank = (_case_phase_rank(case), next(self.order))
        # A check on the input: each failing input is a finding; on the answer: each distinct wrong answer.
        key = (failure.title, got, curl) if node.name in INPUT_CHECKS else (failure.title, got)
        exchange = from_interaction(interaction, self.secrets)
        tally.failures.append(_Failure(rank, failure.title, got, curl, status, key, exchange))


def _case_phase_rank(case: Any) -> int:
    phase = str(case.meta.phase.name.value) if case is not None and case.meta is not None else ""
    return PHASE_ORDER.index(phase) if phase in PHASE_ORDER else len(PHASE_ORDER)


def _failed_result(base: dict[str, Any], tally: _Tally) -> CheckResult:
    """A failed check: its distinct failures in Schemathesis' order, each with its exchange and repro."""
    expected = EXPECTATIONS.get(base["check"], "see the message")
    failures, omitted = tally.distinct()
    findings = [Finding(f.title, expected, f.got, f.curl, f.exchange) for f in failures] or [
        Finding("failed", expected)
    ]
    first, *more = findings
    return CheckResult(**base, status=Status.FAILED, message=first.message, expected=expected, got=first.got,
                       curl=first.curl, exchange=first.exchange, more=tuple(more), omitted=omitted)  # fmt: skip


def _results(
    api: str,
    tallies: dict[tuple[str, str], _Tally],
    config: SuiteConfig,
    incomplete: bool = False,
    sent: dict[str, int] | None = None,
    interrupted: bool = False,
) -> tuple[list[CheckResult], dict[str, str]]:
    """One result per (operation, check); when the deadline or an interruption cut the phase short, no
    check is passed on the cases it happened to reach: it is skipped (a failure found before stays one)."""
    results, fingerprints = [], {}
    for (label, name), tally in sorted(tallies.items()):
        if name in config.exclude_checks:
            continue
        fingerprints[f"{label}::{name}"] = hashlib.sha256("\n".join(sorted(tally.cases)).encode()).hexdigest()[:16]
        requests = (sent or {}).get(label, 0)
        base = {"api": api, "operation": label, "check": name, "kind": "schema", "requests": requests,
                "duration": tally.elapsed}  # fmt: skip
        if tally.failed:
            result = _failed_result(base, tally)
        elif tally.passed and interrupted:
            message = f"not decided: the run was interrupted after {tally.passed} passing case(s)"
            result = CheckResult(**base, status=Status.SKIPPED, message=message, interrupted=True)
        elif tally.passed and incomplete:
            message = f"not decided: the run's deadline was reached after {tally.passed} passing case(s)"
            result = CheckResult(**base, status=Status.SKIPPED, message=message, cut_by_deadline=True)
        elif tally.passed:
            result = CheckResult(**base, status=Status.PASSED, message=f"{tally.passed} case(s)")
        elif interrupted and name not in STATEFUL_ONLY:
            result = CheckResult(**base, status=Status.SKIPPED, message="not decided: the run was interrupted",
                                 interrupted=True)  # fmt: skip
        else:
            reason = STATEFUL_REASON if name in STATEFUL_ONLY else NOT_EXERCISED.get(name, "no generated case applied")
            result = CheckResult(**base, status=Status.SKIPPED, message=f"not exercised: {reason}")
        results.append(result)
    return results, fingerprints
