"""Why a target gave no HTTP answer, in the operator's words: refused, timed out, not HTTP (an SSH banner,
garbage, a closed connection), TLS expected or not spoken, a certificate not trusted, a client
certificate required, a name that does not resolve.

`diagnose` reads the HTTP client's exception first; where it cannot tell (a "protocol error" is the same
exception for an SSH banner, a TLS port spoken to in plain text and a server that hangs up), it looks at
the wire itself: a TLS handshake, or one plain request whose first bytes are read raw. These probes are
sent only after the preflight request failed, and only to name the cause.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from conformance.tls import TlsSettings

E = TypeVar("E", bound=BaseException)
# TLS alerts a server sends about the client's certificate (missing, or not one it trusts).
CERT_REQUIRED_ALERTS = ("CERTIFICATE_REQUIRED",)
CERT_REFUSED_ALERTS = ("UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN", "CERTIFICATE_EXPIRED", "ACCESS_DENIED")
CLIENT_CERT_FLAGS = "--client-cert FILE and --client-key FILE"
TRUST_HINT = "trust its CA with --ca-cert FILE or SSL_CERT_FILE, or skip verification with --insecure"
# The first bytes of a TLS record (alert or handshake, TLS 1.x), which a TLS port may send to plain text.
TLS_RECORDS = (b"\x15\x03", b"\x16\x03")
# How long a TLS handshake probe waits: a TLS server answers a ClientHello at once.
TLS_PROBE_TIMEOUT = 2.0
# How much of a non-HTTP answer a probe reads and shows.
READ_LIMIT = 256
SHOWN = 60
# The TLS record type of handshake messages, and the handshake message in which a server asks for the
# client's certificate (RFC 8446, 4.3.2).
HANDSHAKE = 22
CERTIFICATE_REQUEST = 13


@dataclass(frozen=True)
class Endpoint:
    """Where a target URL points, for the raw probes."""

    url: str
    host: str
    port: int
    path: str
    tls: bool

    @classmethod
    def of(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        return cls(url, parts.hostname or "", parts.port or (443 if tls else 80), parts.path or "/", tls)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def with_scheme(self, scheme: str) -> str:
        return scheme + self.url[self.url.index("://") :]

    def request(self) -> bytes:
        return f"GET {self.path} HTTP/1.1\r\nHost: {self.address}\r\nConnection: close\r\n\r\n".encode()


@dataclass
class Heard:
    """What one raw exchange got: the first bytes, and whether the server asked for a client certificate."""

    data: bytes = b""
    certificate_requested: bool = False
    error: OSError | None = None


def diagnose(exc: httpx.HTTPError, url: str, timeout: float, tls: TlsSettings) -> str:
    """The cause, worded to follow "<api> target <url> ": "is unreachable: connection refused", ..."""
    endpoint = Endpoint.of(url)
    resolve = _first(exc, socket.gaierror)
    if resolve is not None:
        return f"is unreachable: the name {endpoint.host} does not resolve ({resolve.strerror})"
    if _first(exc, ConnectionRefusedError) is not None:
        return f"is unreachable: connection refused (nothing accepts connections on {endpoint.address})"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"is unreachable: no connection within {timeout:g}s (--timeout)"
    if isinstance(exc, httpx.TimeoutException):
        return f"does not answer: it accepted the connection but sent no response within {timeout:g}s (--timeout)"
    untrusted = _first(exc, ssl.SSLCertVerificationError)
    if untrusted is not None:
        return f"is not trusted: its certificate failed verification: {untrusted.verify_message} ({TRUST_HINT})"
    if endpoint.tls:
        return _over_tls(exc, endpoint, timeout, tls)
    return _in_plain(exc, endpoint, timeout)


def _in_plain(exc: httpx.HTTPError, endpoint: Endpoint, timeout: float) -> str:
    """http:// that connected (or failed to, for another reason than a refusal) but got no HTTP answer:
    what the port sends back to a plain request; a TLS port answers with a TLS record or hangs up, and
    only then is a handshake tried (briefly: a TLS server answers one at once, a plain one may wait)."""
    if isinstance(exc, httpx.ConnectError):
        return f"is unreachable: {_reason(exc)}"
    heard = _exchange(endpoint, timeout, None)
    if heard.data[:2] in TLS_RECORDS or (not heard.data and speaks_tls(endpoint, min(timeout, TLS_PROBE_TIMEOUT))):
        return expects_tls(endpoint)
    return _heard(heard, exc, timeout)


def expects_tls(endpoint: Endpoint) -> str:
    return (
        f"expects TLS: {endpoint.address} answered a TLS handshake, not plain HTTP "
        f"(use {endpoint.with_scheme('https')})"
    )


def _over_tls(exc: httpx.HTTPError, endpoint: Endpoint, timeout: float, tls: TlsSettings) -> str:
    """https:// that failed: the handshake itself, or what came (or did not) after it."""
    handshake = isinstance(exc, httpx.ConnectError)
    if handshake:
        plain = _exchange(endpoint, timeout, None)
        if plain.data.startswith(b"HTTP/"):
            return f"does not speak TLS: {endpoint.address} answers plain HTTP (use {endpoint.with_scheme('http')})"
    heard = _exchange(endpoint, timeout, tls.new_context())
    alert = _first(exc, ssl.SSLError) or (heard.error if isinstance(heard.error, ssl.SSLError) else None)
    about_certificate = _client_certificate(alert, heard.certificate_requested and not heard.data, tls)
    if about_certificate:
        return about_certificate
    if handshake:
        return f"failed the TLS handshake: {_reason(alert or exc)}"
    return _heard(heard, exc, timeout)


def _client_certificate(alert: ssl.SSLError | None, asked_then_closed: bool, tls: TlsSettings) -> str:
    """The server wants a client certificate, or refused the one given; '' when it is about something else."""
    reason = (alert.reason or "") if alert is not None else ""
    if not tls.client_cert and (asked_then_closed or any(a in reason for a in CERT_REQUIRED_ALERTS)):
        return f"requires a client certificate (mutual TLS): it asked for one and none was given ({CLIENT_CERT_FLAGS})"
    if tls.client_cert and (asked_then_closed or any(a in reason for a in CERT_REFUSED_ALERTS + CERT_REQUIRED_ALERTS)):
        why = reason or "it closed the connection after the handshake"
        return f"refused the client certificate --client-cert {tls.client_cert}: {why}"
    return ""


def _heard(heard: Heard, exc: httpx.HTTPError, timeout: float) -> str:
    """Words for what a raw exchange got back from a server whose answer was no HTTP response."""
    first_line = heard.data.split(b"\n", 1)[0].strip()
    if not heard.data and isinstance(heard.error, TimeoutError):
        return f"does not speak HTTP: it sent nothing readable within {timeout:g}s (--timeout)"
    if not heard.data:
        return "does not speak HTTP: it closed the connection without answering"
    if heard.data.startswith(b"HTTP/"):
        return f"does not speak HTTP: its answer could not be read as HTTP ({exc})"
    shown = first_line[:SHOWN].decode("latin-1").encode("unicode_escape").decode("ascii")
    more = "..." if len(first_line) > SHOWN else ""
    return f"does not speak HTTP: it answered '{shown}{more}' instead of an HTTP status line"


def speaks_tls(endpoint: Endpoint, timeout: float) -> bool:
    """Whether the port completes a TLS handshake (or answers one with a TLS alert): its certificate
    is not checked, only the protocol."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=endpoint.host),
        ):
            return True
    except ssl.SSLError as exc:
        return "ALERT" in (exc.reason or "")
    except OSError:
        return False


def _exchange(endpoint: Endpoint, timeout: float, context: ssl.SSLContext | None) -> Heard:
    """One GET of the path, raw, over TLS when a context is given: the first bytes that come back."""
    heard = Heard()
    if context is not None:
        _watch_certificate_request(context, heard)
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw:
            sock = context.wrap_socket(raw, server_hostname=endpoint.host) if context is not None else raw
            with sock:
                sock.sendall(endpoint.request())
                while len(heard.data) < READ_LIMIT and b"\n" not in heard.data:
                    chunk = sock.recv(READ_LIMIT)
                    if not chunk:
                        break
                    heard.data += chunk
    except OSError as exc:  # ssl.SSLError and socket timeouts included
        heard.error = exc
    return heard


# CPython's hook into OpenSSL's message callback: the one sign, under TLS 1.3, that a server asked for a client
# certificate. Checked by tests/package/test_private_names.py; without it the diagnosis reads the alert.
PRIVATE_PYTHON_SYMBOLS: tuple[tuple[str, str], ...] = (("ssl", "SSLContext._msg_callback"),)


def _watch_certificate_request(context: ssl.SSLContext, heard: Heard) -> None:
    """Note whether the server's handshake asks for a client certificate. In TLS 1.3 the client's side of
    the handshake completes either way and the server just hangs up, often without an alert: this is the
    only sign. `_msg_callback` is CPython's hook into OpenSSL's message callback (private, present since
    3.8); without it the diagnosis falls back to the alert, if any."""

    def seen(_conn: object, direction: str, _version: object, content_type: int, msg_type: int, _data: bytes) -> None:
        if direction == "read" and content_type == HANDSHAKE and msg_type == CERTIFICATE_REQUEST:
            heard.certificate_requested = True

    if hasattr(context, "_msg_callback"):
        context._msg_callback = seen


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first(exc: BaseException, kind: type[E]) -> E | None:
    return next((c for c in _causes(exc) if isinstance(c, kind)), None)


def _reason(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLError) and cause.reason:
            return cause.reason.replace("_", " ").lower()
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    return str(exc) or type(exc).__name__
