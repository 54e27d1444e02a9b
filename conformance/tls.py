"""TLS towards the targets, as staging backends need it: a private CA, mutual TLS, or (said in every
report) no verification at all. One `TlsSettings` per run, applied to every request the suite sends:
the preflight and the semantic checks (httpx, through `context`) and Schemathesis' cases (requests,
through `requests_verify` and `requests_cert`), so both phases trust exactly the same certificates.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import certifi

from conformance.config import SuiteConfig
from conformance.errors import UsageError


def _no_password() -> bytes:
    """An encrypted key is refused at once rather than prompting for a password on a CI runner's TTY."""
    return b""


@dataclass(frozen=True)
class TlsSettings:
    verify: bool = True
    # The CA bundle to trust and where it was named; None: certifi's bundle (httpx's and requests' default).
    ca_file: str | None = None
    ca_source: str = ""
    client_cert: str | None = None
    client_key: str | None = None

    @classmethod
    def from_config(cls, config: SuiteConfig, environ: Mapping[str, str] | None = None) -> TlsSettings:
        """--ca-cert wins; else SSL_CERT_FILE, which OpenSSL tools honour but requests would not."""
        environ = os.environ if environ is None else environ
        ca_file, source = config.ca_cert, "--ca-cert"
        if not ca_file and not config.insecure and environ.get("SSL_CERT_FILE"):
            ca_file, source = environ["SSL_CERT_FILE"], "SSL_CERT_FILE"
        return cls(not config.insecure, ca_file, source if ca_file else "", config.client_cert, config.client_key)

    def new_context(self) -> ssl.SSLContext:
        """A fresh client context from these settings; UsageError when a file cannot be used."""
        if self.verify:
            context = self._trusting()
        else:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert:
            self._load_client_cert(context)
        return context

    @functools.cached_property
    def context(self) -> ssl.SSLContext:
        """The run's one client context (httpx), made once: loading a CA bundle costs milliseconds."""
        return self.new_context()

    def _trusting(self) -> ssl.SSLContext:
        cafile = self.ca_file or certifi.where()
        try:
            return ssl.create_default_context(cafile=cafile)
        except FileNotFoundError:
            raise UsageError(f"{self.ca_source} {cafile}: no such file") from None
        except (ssl.SSLError, OSError) as exc:
            raise UsageError(f"{self.ca_source} {cafile}: not a PEM CA certificate ({_reason(exc)})") from None

    def _load_client_cert(self, context: ssl.SSLContext) -> None:
        names = f"--client-cert {self.client_cert}" + (f" / --client-key {self.client_key}" if self.client_key else "")
        try:
            context.load_cert_chain(self.client_cert or "", self.client_key, password=_no_password)
        except FileNotFoundError as exc:
            raise UsageError(f"{names}: no such file: {exc.filename or 'one of them'}") from None
        except (ssl.SSLError, OSError) as exc:
            why = "a PEM certificate and its unencrypted private key are needed"
            raise UsageError(f"{names}: cannot be used ({_reason(exc)}; {why})") from None

    def requests_verify(self) -> bool | str:
        """The same trust for requests (Schemathesis' transport): off, the CA file, or certifi's."""
        if not self.verify:
            return False
        return self.ca_file or certifi.where()

    def requests_cert(self) -> str | tuple[str, str] | None:
        if not self.client_cert:
            return None
        return (self.client_cert, self.client_key) if self.client_key else self.client_cert

    def describe(self) -> str:
        """One line for the reports: whether the targets' identity was checked, and against what."""
        if not self.verify:
            text = "OFF (--insecure): the targets' certificates were not verified"
        elif self.ca_file:
            text = f"on, trusting {self.ca_file} ({self.ca_source})"
        else:
            text = "on, trusting certifi's CA bundle"
        if self.client_cert:
            text += f"; client certificate {self.client_cert}"
        return text


def _reason(exc: BaseException) -> str:
    """OpenSSL's reason in words ("KEY_VALUES_MISMATCH" -> "key values mismatch"), else the OS's."""
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.replace("_", " ").lower()
    return getattr(exc, "strerror", None) or str(exc)
