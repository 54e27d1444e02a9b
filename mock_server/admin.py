"""The tooling API under `/__mock/` (documented in `specs/mock-admin.yaml`, apart from the contract).

It acts on what it is given and nothing more: the serving state (the dataset and cursor codec, which
it alone changes), the request log, and who may use its guarded routes."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson
import yaml
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from billing_contract.documents import ADMIN_SPEC_PATH
from billing_contract.spec import Spec
from fixtures import FixturesError
from mock_server.config import MockConfig
from mock_server.cors import origin_regex
from mock_server.pipeline.request_log import RequestLog
from mock_server.security import same_secret
from mock_server.serving import ServingState

PREFIX = "/__mock"
JSON = "application/json"

MAX_BODY = 256 * 1024 * 1024


YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when built with it


# Routes that change what the mock serves, or read what clients sent (their credentials included).
GUARDED = frozenset({("PUT", "/dataset"), ("POST", "/dataset/reset"), ("GET", "/requests"), ("DELETE", "/requests")})
ADMIN_REALM = 'Bearer realm="billing-mock admin"'


class AdminError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def is_loopback(host: str) -> bool:
    """Whether a listening address is reachable from this machine only (a name other than
    `localhost` may resolve anywhere, so it counts as beyond loopback)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AdminGuard:
    """Who may use the guarded routes: anyone on loopback without a token; with a token, its bearers;
    beyond loopback without a token, nobody (a shared instance must not be an open door)."""

    token: str | None
    host: str
    # Browser origins allowed by CORS (None: CORS off). A web page elsewhere can still send a "simple"
    # POST to a loopback mock without a preflight; its Origin header says so, and it is refused.
    origins: tuple[str, ...] | None = None

    @property
    def locked(self) -> bool:
        return self.token is None and not is_loopback(self.host)

    def check(self, authorization: str | None, origin: str | None = None, own_host: str | None = None) -> None:
        if self.locked:
            raise AdminError(
                403,
                f"the mock listens beyond loopback ({self.host}) without --admin-token "
                "(BILLING_MOCK_ADMIN_TOKEN): its write and log routes are off",
            )
        if origin is not None and not self._allowed_origin(origin, own_host):
            raise AdminError(403, f"a web page at {origin} may not use this route (not one of --cors-origins)")
        if self.token is None:
            return
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not same_secret(presented.strip(), self.token):
            raise AdminError(
                401, "this route needs Authorization: Bearer <admin token>", {"WWW-Authenticate": ADMIN_REALM}
            )

    def _allowed_origin(self, origin: str, own_host: str | None) -> bool:
        if own_host and origin.lower() in (f"http://{own_host}".lower(), f"https://{own_host}".lower()):
            return True  # the mock's own pages
        return self.origins is not None and re.fullmatch(origin_regex(self.origins), origin) is not None

    def describe(self) -> str:
        """One line for the banner: how the guarded routes are reached, never the token itself."""
        if self.locked:
            return (
                f"write and log routes refused (403): listening on {self.host} beyond loopback "
                "without --admin-token / BILLING_MOCK_ADMIN_TOKEN"
            )
        if self.token is not None:
            return "write and log routes need Authorization: Bearer <admin token> (--admin-token)"
        return "open on loopback (--admin-token to require a token)"


@dataclass(frozen=True)
class AdminRequest:
    body: bytes
    content_type: str


Handler = Callable[[AdminRequest], Awaitable[tuple[int, Any]]]


class AdminApi:
    def __init__(self, serving: ServingState, log: RequestLog, config: MockConfig) -> None:
        self.serving = serving
        self.log = log
        self.defaults = (config.seed, config.size)  # what a reset regenerates unless told otherwise
        self.guard = AdminGuard(config.admin_token, config.host, config.cors_origins)
        self.document = Spec.load(ADMIN_SPEC_PATH).document  # its own OpenAPI document, read once
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/health"): self.health,
            ("GET", "/dataset"): self.dataset,
            ("PUT", "/dataset"): self.load_dataset,
            ("POST", "/dataset/reset"): self.reset_dataset,
            ("GET", "/requests"): self.requests,
            ("DELETE", "/requests"): self.clear_requests,
            ("GET", "/openapi.json"): self.openapi,
        }

    async def health(self, _: AdminRequest) -> tuple[int, Any]:
        return 200, {"status": "ok", "pid": os.getpid()}

    async def dataset(self, _: AdminRequest) -> tuple[int, Any]:
        return 200, self.serving.summary()

    async def load_dataset(self, request: AdminRequest) -> tuple[int, Any]:
        document = _document(request.body, request.content_type)
        try:
            self.serving.load_document(document, "request body")
        except FixturesError as exc:
            raise AdminError(400, str(exc)) from None
        return 200, self.serving.summary()

    async def reset_dataset(self, request: AdminRequest) -> tuple[int, Any]:
        options = _json(request.body) if request.body.strip() else {}
        seed, size = self.defaults
        allowed = {"seed", "records", "statements", "accounts"}
        if not isinstance(options, dict) or set(options) - allowed:
            raise AdminError(400, f"body must be an object with only: {', '.join(sorted(allowed))}")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in options.values()):
            raise AdminError(400, "every field must be an integer")
        sizes = {k: v for k, v in options.items() if k != "seed"}
        if any(v < 0 for v in sizes.values()) or sizes.get("accounts", 1) < 1:
            raise AdminError(400, "sizes must be >= 0 and accounts >= 1")
        self.serving.regenerate(options.get("seed", seed), replace(size, **sizes))
        return 200, self.serving.summary()

    async def requests(self, _: AdminRequest) -> tuple[int, Any]:
        return 200, {"requests": list(self.log.entries)}

    async def clear_requests(self, _: AdminRequest) -> tuple[int, Any]:
        self.log.entries.clear()
        return 204, None

    async def openapi(self, _: AdminRequest) -> tuple[int, Any]:
        return 200, self.document

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (await self._response(scope, receive))(scope, receive, send)

    async def _response(self, scope: Scope, receive: Receive) -> Response:
        path = scope["path"][len(PREFIX) :]
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        handler = self.routes.get((method, path))
        try:
            if handler is None:
                known = sorted(m for m, p in self.routes if p == path)
                raise AdminError(405, f"allowed: {', '.join(known)}") if known else AdminError(404, "Not found.")
            received = {k.lower(): v.decode("latin-1") for k, v in scope["headers"]}
            if (method, path) in GUARDED:  # before the body is read: a refused caller costs nothing
                self.guard.check(received.get(b"authorization"), received.get(b"origin"), received.get(b"host"))
            request = AdminRequest(await _read_body(receive), received.get(b"content-type", ""))
            status, body = await handler(request)
        except AdminError as exc:
            return Response(orjson.dumps({"detail": exc.detail}), exc.status, exc.headers, JSON)
        if body is None:
            return Response(status_code=status)
        return Response(orjson.dumps(body), status, media_type=JSON)


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AdminError(400, f"body is not JSON: {exc}") from None


def _yaml(body: bytes, problem: str = "body is not valid YAML") -> Any:
    try:
        return yaml.load(body, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        raise AdminError(400, f"{problem}: {' '.join(str(exc).split())}") from None


def _document(body: bytes, content_type: str) -> Any:
    """A dataset in either `--fixtures` format: the declared type decides; without one (or curl's
    default form type) JSON is tried first, as the faster parser, then YAML."""
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return _json(body)
    if media in YAML_TYPES:
        return _yaml(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _yaml(body, "body is neither JSON nor YAML")


async def _read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise AdminError(413, "body too large")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)
