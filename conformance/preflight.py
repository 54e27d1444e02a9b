"""Before any check: is the run's own setup sound, and is each target the HTTP API it should be?

A mistake of the operator's (a check name misspelt, an Api-Version the contract does not have, a CA
file that is not one, a URL pointing at an SSH port, a TLS port spoken to in plain text, credentials the
target refuses) would otherwise come out as a contract verdict, minutes later and hundreds of lines
long. Here it stops the run in one line (`UsageError` and its kinds; the CLI exits 2), within about
--timeout.

"Speaks the API" asserts no contract rule: the API's own path (page 1 of its collection, with the given
credentials) answered with an HTTP status line. HTML, a 404, a redirect are answers: the checks judge
them. Only the API's "credentials rejected" status (Mifumo 401, WePay 403) is read, to stop a run
whose every answer would be that refusal.
"""

from __future__ import annotations

import httpx

from billing_contract import MIFUMO, WEPAY, rules
from billing_contract.profiles import PROFILES
from billing_contract.spec import Spec
from conformance import catalog
from conformance.config import SuiteConfig
from conformance.errors import CredentialsRejected, TargetUnreachable, UsageError
from conformance.pacing import DeadlineExceeded, Pacer
from conformance.probe import Endpoint, diagnose, expects_tls, speaks_tls
from conformance.tls import TlsSettings

# What the preflight asks for: page 1 of each API's collection (its profile's).
FIRST_OPERATION = {api: profile.collection for api, profile in PROFILES.items()}
# The credential to name when an API refuses the given ones (the status it refuses with is the spec's).
CREDENTIAL_OPTIONS = {
    MIFUMO: "the Mifumo access token (--bearer-token / BILLING_BEARER_TOKEN)",
    WEPAY: "the WePay App-Id and App-Token (--app-id / --app-token, BILLING_APP_ID / BILLING_APP_TOKEN)",
}
# What a TLS port answers a plain-HTTP request with, when it answers at all (nginx: "400 The plain HTTP
# request was sent to HTTPS port").
PLAIN_TO_TLS_STATUS = 400


def check_flags(config: SuiteConfig, spec: Spec) -> TlsSettings:
    """What the flags ask for, checked against the contract and the registries, before any request;
    the run's TLS settings, their files loaded."""
    _check_api_version(config, spec)
    _check_exclusions(config)
    tls = TlsSettings.from_config(config)
    _ = tls.context  # a CA or client certificate that cannot be loaded stops the run now
    return tls


def _check_api_version(config: SuiteConfig, spec: Spec) -> None:
    versions = spec.facts.api_versions
    if config.api_version is not None and config.api_version not in versions:
        raise UsageError(f"--api-version {config.api_version!r} is not a version the spec lists: {', '.join(versions)}")


def _check_exclusions(config: SuiteConfig) -> None:
    unknown = catalog.unknown(config.exclude_checks)
    if unknown:
        valid = ", ".join(sorted(check.name for check in catalog.all_checks()))
        raise UsageError(f"--exclude-check: no check named {', '.join(unknown)}; the checks are: {valid}")


def check_targets(config: SuiteConfig, spec: Spec, pacer: Pacer, tls: TlsSettings) -> None:
    """One request per API, through the run's pacer: page 1 of the collection, with the credentials."""
    for api in config.apis:
        _check_target(config, api, spec, pacer, tls)


def _check_target(config: SuiteConfig, api: str, spec: Spec, pacer: Pacer, tls: TlsSettings) -> None:
    url = config.url_for(api) or ""
    path = spec.operations[FIRST_OPERATION[api]].path
    with httpx.Client(follow_redirects=False, verify=tls.context) as http:
        try:
            response = pacer.send(
                lambda timeout: http.get(url + path, headers=config.auth_headers(api), timeout=timeout),
                lambda r: r.status_code,
                lambda r: r.headers.get("Retry-After"),
                config.timeout,
                key=api,
            )
        except DeadlineExceeded:
            return  # the run's deadline (or a stop) came first: the run reports it
        except httpx.HTTPError as exc:
            if pacer.expired():
                return  # cut by the deadline, not by the target
            raise TargetUnreachable(f"{api} target {url} {diagnose(exc, url, config.timeout, tls)}") from None
    _check_answer(config, spec, api, url, path, response)


def _check_answer(config: SuiteConfig, spec: Spec, api: str, url: str, path: str, response: httpx.Response) -> None:
    endpoint = Endpoint.of(url)
    if not endpoint.tls and response.status_code == PLAIN_TO_TLS_STATUS and speaks_tls(endpoint, config.timeout):
        raise TargetUnreachable(f"{api} target {url} {expects_tls(endpoint)}")
    status, credential = PROFILES[api].credentials_status(spec), CREDENTIAL_OPTIONS[api]
    if response.status_code == status:
        raise CredentialsRejected(
            f"{api} target {url} rejected {credential}: GET {path} answered {status} {rules.shown(response.text)}"
        )
