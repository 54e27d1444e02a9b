"""The mock against the real framework: one generated corpus of requests sent to both the mock and the DRF
reference (tests/reference: Django, DRF, simplejwt, django-filter on the same records), answers compared.

The reference is the judge: every way the mock answers differently is listed, grouped by kind, with the
simplest request that shows it and DRF's exact answer. A kind in `KNOWN_DIFFERENCES` is accepted (a
difference the project chose); any other fails the test.

What is compared: the status; `Content-Type` (media type); `Allow`; `WWW-Authenticate`; `Location` (path and
query); `Vary` (its values other than `Origin`, the mock's CORS); the body with record values replaced by
placeholders (ids, descriptions, amounts, timestamps by their format, counts), error texts with the request's
own values replaced by `{name}`, and the `next`/`previous` links' paths and query strings. Separately, for
pages both sides answer, the records themselves (count and ids): the same seed means the same data.

Each side gets its own valid and expired tokens (the mock's expired one: `EXPIRED_BEARER_TOKEN`, its own token
with `exp` passed, which it answers with simplejwt's "Token is expired").
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from fixtures import DEFAULT_SEED, DatasetSize
from mock_server import MockConfig
from mock_server.security import EXPIRED_BEARER_TOKEN
from mock_server.testing import RunningMock, running_mock
from tests.reference.running import Reference, running_drf_reference

RECORDS = 250  # 13 pages of 20
CORPUS_SEED = 20261206
CORPUS_SIZE = 400
PATH = "/api/billing/history/"

# Kinds (the first line of each group in the failure message) the project has decided to keep, with why.
KNOWN_DIFFERENCES: dict[str, str] = {
    # The reference's serializer set-up words a bad `type` as DRF's ChoiceField does; the mock words it as
    # django-filter's ChoiceFilter does (the other set-up, which it matches). Both are DRF's field-error map
    # naming `type`, which is all the contract states.
    'field error \'type\': DRF ["\\"{type}\\" is not a valid choice."] / mock '
    '["Select a valid choice. {type} is not one of the available choices."]': "a serializer's ChoiceField text",
}


# -- the corpus -------------------------------------------------------------------------------------------

# Each dimension's values: (label, raw query pieces). A piece is sent exactly as written (already encoded).
PAGE_VALUES: dict[str, tuple[str, ...]] = {
    "1": ("page=1",),
    "2": ("page=2",),
    "13 (last)": ("page=13",),
    "empty": ("page=",),
    "0": ("page=0",),
    "-1": ("page=-1",),
    "abc": ("page=abc",),
    "1.0": ("page=1.0",),
    "+2": ("page=%2B2",),
    "02": ("page=02",),
    "last": ("page=last",),
    "14 (past end)": ("page=14",),
    "huge": ("page=99999999999999999999",),
    "space-padded 2": ("page=%202",),
    "repeated 2,3": ("page=2", "page=3"),
    "repeated abc,2": ("page=abc", "page=2"),
    "repeated 2,abc": ("page=2", "page=abc"),
}
PAGE_SIZE_VALUES: dict[str, tuple[str, ...]] = {
    "1": ("page_size=1",),
    "5": ("page_size=5",),
    "20": ("page_size=20",),
    "100": ("page_size=100",),
    "101": ("page_size=101",),
    "1000": ("page_size=1000",),
    "0": ("page_size=0",),
    "-5": ("page_size=-5",),
    "abc": ("page_size=abc",),
    "empty": ("page_size=",),
    "+5": ("page_size=%2B5",),
    "05": ("page_size=05",),
    "1e2": ("page_size=1e2",),
    "space-padded 5": ("page_size=%205",),
    "repeated 5,10": ("page_size=5", "page_size=10"),
    "repeated abc,5": ("page_size=abc", "page_size=5"),
    "repeated 5,abc": ("page_size=5", "page_size=abc"),
}
TYPE_VALUES: dict[str, tuple[str, ...]] = {
    "purchase": ("type=purchase",),
    "payment": ("type=payment",),
    "usage": ("type=usage",),
    "refund": ("type=refund",),
    "empty": ("type=",),
    "Usage": ("type=Usage",),
    "null": ("type=null",),
    "repeated usage,payment": ("type=usage", "type=payment"),
    "repeated refund,usage": ("type=refund", "type=usage"),
    "repeated usage,refund": ("type=usage", "type=refund"),
}
UNKNOWN_VALUES: dict[str, tuple[str, ...]] = {
    "x=1": ("x=1",),
    "ordering": ("ordering=-amount",),
    "space as %20": ("search=a%20b",),
    "space as +": ("search=a+b",),
    "non-ASCII": ("note=%C3%A9",),
    "no value": ("flag",),
    "repeated": ("x=1", "x=2"),
    "limit/offset": ("limit=5", "offset=5"),
    "format=json": ("format=json",),
    "format=xml": ("format=xml",),
}
# httpx's own default, JSON asked for by name, and a media type DRF cannot render (`text/html`, DRF's browsable
# API, is left out: an HTML page is not something the mock should imitate).
ACCEPTS = ("*/*", "application/json", "application/xml")
CREDENTIALS = (
    "valid",
    "none",
    "Token x",
    "lower-case bearer",
    "Bearer alone",
    "Bearer three words",
    "Bearer bad",
    "Bearer expired",
)
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE")


@dataclass(frozen=True)
class Probe:
    """One request of the corpus, as labels; `query` is the raw query string sent."""

    method: str = "GET"
    slash: bool = True
    credential: str = "valid"
    features: tuple[tuple[str, str], ...] = ()  # (dimension, label) in the order sent
    query: str = ""
    accept: str = "*/*"

    @property
    def target(self) -> str:
        path = PATH if self.slash else PATH.rstrip("/")
        return f"{path}?{self.query}" if self.query else path

    @property
    def complexity(self) -> float:
        """How far from a plain valid GET: the simplest request of a kind is its example."""
        return (
            len(self.features)
            + (self.method != "GET")
            + (not self.slash)
            + (self.credential != "valid")
            + (self.accept != "*/*")
            + len(self.query) / 1000
        )

    def describe(self) -> str:
        """The request line as a reader would retype it, and which credential form it carried."""
        accept = "" if self.accept == "*/*" else f", Accept: {self.accept}"
        return f"{self.method} {self.target}  [credentials: {self.credential}{accept}]"


def _probe(
    rng: random.Random,
    dimensions: list[tuple[str, str, tuple[str, ...]]],
    method: str = "GET",
    slash: bool = True,
    credential: str = "valid",
    accept: str = "*/*",
) -> Probe:
    pieces = [(dimension, label, piece) for dimension, label, raw in dimensions for piece in raw]
    if rng.random() < 0.5:  # the parameters' order must not matter (DRF's links sort them)
        rng.shuffle(pieces)
    features = tuple(dict.fromkeys((dimension, label) for dimension, label, _ in pieces))
    return Probe(method, slash, credential, features, "&".join(piece for _, _, piece in pieces), accept)


def _corpus() -> list[Probe]:
    """Deterministic: every value of every dimension alone on a valid GET, then seeded random mixtures."""
    rng = random.Random(CORPUS_SEED)
    tables = {"page": PAGE_VALUES, "page_size": PAGE_SIZE_VALUES, "type": TYPE_VALUES, "unknown": UNKNOWN_VALUES}
    probes = [Probe()]
    for dimension, table in tables.items():
        probes += [_probe(rng, [(dimension, label, raw)]) for label, raw in table.items()]
    probes += [Probe(credential=credential) for credential in CREDENTIALS[1:]]
    probes += [Probe(method=method) for method in METHODS[1:]]
    probes += [Probe(method=method, credential="none") for method in METHODS]
    probes += [Probe(method=method, slash=False, credential="none") for method in METHODS]
    probes += [_probe(rng, [("page", "2", ("page=2",)), ("type", "usage", ("type=usage",))], slash=False)]
    # DRF negotiates `?format=` before it authenticates and before it checks the method.
    probes += [
        _probe(rng, [("unknown", label, UNKNOWN_VALUES[label])], method=method, credential=credential)
        for label in ("format=json", "format=xml")
        for method, credential in (("GET", "none"), ("POST", "valid"), ("POST", "none"), ("OPTIONS", "valid"))
    ]
    probes += [Probe(accept=accept) for accept in ACCEPTS[1:]]
    probes += [Probe(accept="application/xml", credential="none"), Probe(accept="application/xml", method="POST")]
    while len(probes) < CORPUS_SIZE:
        dimensions = [
            (dimension, label, table[label])
            for dimension, table in tables.items()
            if rng.random() < 0.35
            for label in [rng.choice(list(table))]
        ]
        probes.append(
            _probe(
                rng,
                dimensions,
                method=rng.choices(METHODS, weights=(12, 2, 2, 1, 1, 1))[0],
                slash=rng.random() > 0.1,
                credential=rng.choices(CREDENTIALS, weights=(12, 1, 1, 1, 1, 1, 1, 1))[0],
                accept=rng.choices(ACCEPTS, weights=(16, 2, 1))[0],
            )
        )
    return probes


# -- the two servers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One server under comparison: where it is and the tokens it issued (each side its own)."""

    name: str
    url: str
    valid: str
    expired: str

    def authorization(self, credential: str) -> dict[str, str]:
        """The headers of one credential form, with this side's own tokens."""
        return {
            "valid": {"Authorization": f"Bearer {self.valid}"},
            "none": {},
            "Token x": {"Authorization": "Token x"},
            "lower-case bearer": {"Authorization": f"bearer {self.valid}"},
            "Bearer alone": {"Authorization": "Bearer"},
            "Bearer three words": {"Authorization": f"Bearer {self.valid} x"},
            "Bearer bad": {"Authorization": "Bearer not-a-valid-token"},
            "Bearer expired": {"Authorization": f"Bearer {self.expired}"},
        }[credential]


def _mock_side(mock: RunningMock) -> Side:
    """The mock's token, and its expired form (signed with the mock's key, `exp` passed)."""
    return Side("mock", mock.url, mock.credentials.bearer_token, EXPIRED_BEARER_TOKEN)


def _drf_side(reference: Reference) -> Side:
    return Side("DRF", reference.url, reference.token, reference.expired_token)


@pytest.fixture(scope="module")
def seeded_mock() -> Iterator[RunningMock]:
    """The mock with the reference's seed and record count, spelled out (not conftest's default `mock`)."""
    with running_mock(MockConfig(seed=DEFAULT_SEED, size=DatasetSize(records=RECORDS))) as running:
        yield running


@pytest.fixture(scope="module", params=["filterset", "serializer"])
def drf(request: pytest.FixtureRequest) -> Iterator[Reference]:
    """UTC, the mock's seed and record count; `type` checked by django-filter (the contract's own 400 text
    is django-filter's) and, second, by a DRF query serializer."""
    with running_drf_reference(time_zone="UTC", type_filter=request.param, seed=DEFAULT_SEED, records=RECORDS) as ref:
        yield ref


# -- answers and their comparison ------------------------------------------------------------------------


@dataclass
class Answer:
    """One side's answer to one probe, with the base URL its absolute links should start with."""

    status: int
    headers: dict[str, str]
    text: str
    body: Any = None  # parsed JSON, or None
    base: str = ""

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower() or "-"

    def summary(self, limit: int = 400) -> str:
        """Status, the compared headers, and the body as sent (a page's records counted, not shown)."""
        shown = ("content-type", "allow", "www-authenticate", "location", "vary")
        headers = "; ".join(f"{name}: {self.headers[name]}" for name in shown if name in self.headers)
        if isinstance(self.body, dict) and isinstance(self.body.get("results"), list):
            text = json.dumps({**self.body, "results": f"[{len(self.body['results'])} records]"}, ensure_ascii=False)
        else:
            text = self.text
        body = text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
        return f"{self.status} [{headers}] {body or '(empty body)'}"


def _send(client: httpx.Client, side: Side, probe: Probe) -> Answer:
    """The probe as written (the target is not re-encoded; redirects are answers, not followed)."""
    headers = {**side.authorization(probe.credential), "Accept": probe.accept}
    response = client.request(probe.method, side.url + probe.target, headers=headers)
    body = None
    if "json" in response.headers.get("content-type", "") and response.content:
        body = response.json()
    return Answer(response.status_code, dict(response.headers), response.text, body, side.url)


def _sent(probe: Probe, name: str) -> list[str]:
    """The values the probe sent for one query parameter, decoded, in order."""
    return [value for key, value in parse_qsl(probe.query, keep_blank_values=True) if key == name]


def _template(text: str, probe: Probe, name: str) -> str:
    """A message with the request's own values of `name` as `{name}`, so one kind collects every value.

    Only a field's own values are replaced in that field's errors (DRF and django-filter echo the bad value);
    digits are left alone, so a limit such as `100` in "less than or equal to 100" stays as it is.
    """
    values = sorted({v for v in _sent(probe, name) if v and not v.isdigit()}, key=len, reverse=True)
    for value in values:
        text = re.sub(rf"(?<![\w]){re.escape(value)}(?![\w])", "{" + name + "}", text)
    return text


def _location(answer: Answer, probe: Probe) -> str:
    """The `Location` header's path and query (the host would differ), the request's own query as `{query as sent}`."""
    location = answer.headers.get("location")
    if location is None:
        return "-"
    parts = urlsplit(location)
    query = "?{query as sent}" if probe.query and parts.query == probe.query else f"?{parts.query}" * bool(parts.query)
    return parts.path + query


def _vary(answer: Answer) -> str:
    """`Vary` without `Origin`: the mock's CORS adds it, and the real service's django-cors-headers does too."""
    values = [v.strip() for v in answer.headers.get("vary", "").split(",") if v.strip()]
    return ", ".join(v for v in values if v.lower() != "origin") or "-"


def _value_shape(name: str, value: Any) -> str:
    """A record value as its placeholder: its JSON type, and for a timestamp its zone suffix (Z, +03:00)."""
    if name == "created_at" and isinstance(value, str):
        offset = "Z" if value.endswith("Z") else value[-6:] if len(value) > 6 and value[-6] in "+-" else "?"
        return f"<datetime {offset}>"
    return f"<{type(value).__name__}>"


def _record_shapes(results: list[Any]) -> str:
    """How many records, of which types, and their shape (keys, value types, the timestamps' offset)."""
    shapes = sorted(
        {
            json.dumps({k: _value_shape(k, v) for k, v in r.items() if k != "type"}) if isinstance(r, dict) else "?"
            for r in results
        }
    )
    kinds = sorted({str(r.get("type")) for r in results if isinstance(r, dict)})
    return f"{len(results)} records of types {kinds}, shaped {shapes}"


def _link_template(query: str) -> str:
    """A link's query with every value but `page`'s elided: the names, their order and repetition stay."""
    return "&".join(piece if piece.startswith("page=") else re.sub(r"=.*", "=…", piece) for piece in query.split("&"))


def _link_difference(drf: Any, mock: Any, drf_base: str, mock_base: str) -> tuple[str, str] | None:
    """How two `next` (or `previous`) links differ, abstracted from the request's own values."""

    def norm(link: Any, base: str) -> str:
        if link is None:
            return "null"
        if not isinstance(link, str):
            return f"<{type(link).__name__}>"
        return ("<base>" + link[len(base) :]) if link.startswith(base + "/") else f"<not this server's base> {link}"

    d, m = norm(drf, drf_base), norm(mock, mock_base)
    if d == m:
        return None
    d_path, _, d_query = d.partition("?")
    m_path, _, m_query = m.partition("?")
    if (
        d.startswith("<base>")
        and m.startswith("<base>")
        and d_path == m_path
        and _link_template(d_query) == _link_template(m_query)
    ):
        # Same names, order and pages: some value is written differently; show the pieces that differ.
        changed = [(a, b) for a, b in zip(d_query.split("&"), m_query.split("&"), strict=True) if a != b]
        return "…" + " ".join(a for a, _ in changed), "…" + " ".join(b for _, b in changed)
    return _link_shape(d_path, d_query), _link_shape(m_path, m_query)


def _link_shape(path: str, query: str) -> str:
    return path + (f"?{_link_template(query)}" if query else "")


def _body_kind(answer: Answer) -> str:
    """A page, a DRF field-error map, another JSON body (`{"detail": ...}`, metadata) or not JSON."""
    body = answer.body
    if isinstance(body, dict) and "results" in body:
        return "page"
    if isinstance(body, dict) and body and "detail" not in body and all(isinstance(v, list) for v in body.values()):
        return "field errors"
    if body is not None:
        return "json"
    return "text"


def _body_summary(answer: Answer, probe: Probe) -> str:
    """A body as one kind sees it: pages and field errors are compared in detail elsewhere; a `detail`'s
    echoed method (`Method "PUT" not allowed.`) is written `{method}` so every method shares one kind."""
    kind = _body_kind(answer)
    if kind in ("page", "field errors"):
        return f"<{kind}>"
    if kind == "json":
        body = answer.body
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            body = {**body, "detail": body["detail"].replace(f'"{probe.method}"', '"{method}"')}
        return json.dumps(body, ensure_ascii=False)
    return f"<{answer.media_type}, {len(answer.text)} chars>" if answer.text else "<empty>"


def differences(drf: Answer, mock: Answer, probe: Probe) -> list[str]:
    """Each way the two answers differ, as one kind: `aspect: DRF <its> / mock <its>`, abstracted from the
    request's own values so that one kind collects every request showing it."""
    found: list[str] = []

    def compare(aspect: str, d: Any, m: Any) -> None:
        if d != m:
            found.append(f"{aspect}: DRF {d} / mock {m}")

    compare("status", drf.status, mock.status)
    compare("Content-Type", drf.media_type, mock.media_type)
    compare("Allow", drf.headers.get("allow", "-"), mock.headers.get("allow", "-"))
    compare("WWW-Authenticate", drf.headers.get("www-authenticate", "-"), mock.headers.get("www-authenticate", "-"))
    compare("Location", _location(drf, probe), _location(mock, probe))
    compare("Vary (less Origin)", _vary(drf), _vary(mock))
    kinds = _body_kind(drf), _body_kind(mock)
    if kinds == ("page", "page"):
        d, m = drf.body, mock.body
        compare("page keys", list(d), list(m))
        compare("results", _record_shapes(d.get("results", [])), _record_shapes(m.get("results", [])))
        for link in ("next", "previous"):
            difference = _link_difference(d.get(link), m.get(link), drf.base, mock.base)
            if difference:
                compare(f"{link} link", *difference)
        if d.get("count") != m.get("count"):
            found.append("data: the counts differ")
        elif [r.get("id") for r in d.get("results", [])] != [r.get("id") for r in m.get("results", [])]:
            found.append("data: the records differ")
        return found
    compare(f"body ({drf.status}/{mock.status})", _body_summary(drf, probe), _body_summary(mock, probe))
    if "field errors" in kinds:  # field by field: DRF reports the fields it checks, one list each
        d_errors = drf.body if kinds[0] == "field errors" else {}
        m_errors = mock.body if kinds[1] == "field errors" else {}
        for name in sorted({*d_errors, *m_errors}):
            texts = [_template(json.dumps(e.get(name), ensure_ascii=False), probe, name) for e in (d_errors, m_errors)]
            compare(f"field error {name!r}", *("-" if t == "null" else t for t in texts))
    return found


@dataclass
class Group:
    """Every request showing one kind of difference, and the simplest of them as its example."""

    kind: str
    probes: list[Probe] = field(default_factory=list)
    example: tuple[Probe, Answer, Answer] | None = None

    def add(self, probe: Probe, drf: Answer, mock: Answer) -> None:
        self.probes.append(probe)
        if self.example is None or probe.complexity < self.example[0].complexity:
            self.example = (probe, drf, mock)

    def render(self, simplest: int = 6) -> str:
        """The kind, how many requests show it, its simplest requests, and both answers to the first."""
        assert self.example is not None
        probe, drf, mock = self.example
        others = sorted({p.describe(): p for p in self.probes}.values(), key=lambda p: (p.complexity, p.describe()))
        also = "; ".join(
            p.describe() for p in others[:simplest] if p.complexity < 2 and p.describe() != probe.describe()
        )
        return "\n".join(
            [
                f"* {self.kind}",
                f"    {len(self.probes)} request(s), e.g. {probe.describe()}" + (f"; also {also}" if also else ""),
                f"    DRF:  {drf.summary()}",
                f"    mock: {mock.summary()}",
            ]
        )


# -- the test -------------------------------------------------------------------------------------------


def test_the_corpus_is_deterministic_and_covers_every_value() -> None:
    """The same corpus on every run (a difference reported today is reported tomorrow), covering the brief."""
    first, second = _corpus(), _corpus()
    assert first == second
    assert len(first) >= 300
    seen = {feature for probe in first for feature in probe.features}
    for dimension, table in (("page", PAGE_VALUES), ("page_size", PAGE_SIZE_VALUES), ("type", TYPE_VALUES)):
        assert {(dimension, label) for label in table} <= seen
    assert {p.credential for p in first} == set(CREDENTIALS)
    assert {p.method for p in first} == set(METHODS)
    assert {p.slash for p in first} == {True, False}
    assert {p.accept for p in first} == set(ACCEPTS)


def test_the_mock_answers_as_drf_does(seeded_mock: RunningMock, drf: Reference) -> None:
    """Every difference not in KNOWN_DIFFERENCES fails, listed by kind with its simplest request."""
    corpus = _corpus()
    mock_side, drf_side = _mock_side(seeded_mock), _drf_side(drf)
    groups: dict[str, Group] = {}
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        for probe in corpus:
            drf_answer, mock_answer = _send(client, drf_side, probe), _send(client, mock_side, probe)
            for kind in differences(drf_answer, mock_answer, probe):
                groups.setdefault(kind, Group(kind)).add(probe, drf_answer, mock_answer)
    # The reference really answered this corpus (and nothing else): its own log says so.
    served = [(r["method"], r["path"], r["query"]) for r in drf.requests()]
    assert served == [(p.method, p.target.partition("?")[0], p.query) for p in corpus]
    unexpected = sorted((g for g in groups.values() if g.kind not in KNOWN_DIFFERENCES), key=lambda g: -len(g.probes))
    if unexpected:
        differing = len({p for g in unexpected for p in g.probes})
        pytest.fail(
            f"{len(unexpected)} kind(s) of difference between the mock and DRF "
            f"({differing} of {len(corpus)} requests):\n" + "\n".join(group.render() for group in unexpected),
            pytrace=False,
        )
