"""TLS as staging backends need it, over real TLS with a throwaway CA (trustme): the mock served by uvicorn
with the CA's certificate for 127.0.0.1, the suite's CLI run as CI runs it.

A passing run is the proof that the TLS settings reach every request: Schemathesis' cases go through
requests, the preflight and the semantic checks through httpx; a setting that missed either would fail
its requests (`schema_request_errors`, or the preflight's exit 2).
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server.testing import free_port
from tests.conformance.targets import Pki, Run, cli, make_pki, tls_mock

PREFIX = "billing-conformance: error: "
QUICK = ("--max-examples", "2", "--quiet")
UNVERIFIED = "OFF (--insecure): the targets' certificates were not verified"
TRUST_HINT = "(trust its CA with --ca-cert FILE or SSL_CERT_FILE, or skip verification with --insecure)"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def https_url(pki: Pki) -> Iterator[str]:
    with tls_mock(pki) as url:
        yield url


@pytest.fixture(scope="module")
def mutual_url(pki: Pki) -> Iterator[str]:
    with tls_mock(pki, mutual=True) as url:
        yield url


def error_line(run: Run) -> str:
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stdout == "" and len(run.error_lines) == 1 and "Traceback" not in run.stderr, run.stderr
    return run.error_lines[0].removeprefix(PREFIX)


def conformant_over_tls(run: Run) -> None:
    """Exit 0, with Schemathesis' checks passed over TLS (none of its requests failed)."""
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {line.split()[0]: line.split()[1:] for line in run.stdout.splitlines() if line.startswith("  ")}
    assert int(rows["not_a_server_error"][0]) > 0 and "schema_request_errors" not in rows, run.stdout
    assert run.stdout.rstrip().splitlines()[-1].startswith("CONFORMANT:"), run.stdout


def junit_properties(path: Path) -> dict[str, str]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    return {p.get("name", ""): p.get("value", "") for p in suite.iterfind("properties/property")}


# --- server verification ------------------------------------------------------------------------------


def test_an_untrusted_certificate_stops_the_run_with_the_verifiers_reason(https_url: str) -> None:
    run = cli("--wepay-url", https_url, *QUICK)
    assert error_line(run) == (
        f"wepay target {https_url} is not trusted: its certificate failed verification: "
        f"unable to get local issuer certificate {TRUST_HINT}"
    )
    assert run.wall < 20, run.wall


def test_ca_cert_trusts_the_private_ca_in_both_phases(pki: Pki, https_url: str, tmp_path: Path) -> None:
    report = tmp_path / "j.xml"
    run = cli("--wepay-url", https_url, "--ca-cert", str(pki.ca), "--junit-xml", str(report), *QUICK)
    conformant_over_tls(run)
    assert "WARNING" not in run.stdout
    assert junit_properties(report)["tls-verification"] == f"on, trusting {pki.ca} (--ca-cert)"


def test_ssl_cert_file_is_honoured(pki: Pki, https_url: str) -> None:
    conformant_over_tls(cli("--mifumo-url", https_url, *QUICK, env={"SSL_CERT_FILE": str(pki.ca)}))


def test_a_ca_that_did_not_issue_the_certificate_is_not_trusted(pki: Pki, https_url: str) -> None:
    run = cli("--wepay-url", https_url, *QUICK, env={"BILLING_CA_CERT": str(pki.stranger_ca)})
    assert error_line(run).startswith(f"wepay target {https_url} is not trusted: its certificate failed verification")


def test_insecure_passes_and_every_report_says_verification_was_off(https_url: str, tmp_path: Path) -> None:
    report = tmp_path / "j.xml"
    run = cli("--wepay-url", https_url, "--insecure", "--junit-xml", str(report), *QUICK)
    conformant_over_tls(run)
    off = "TLS certificate verification was OFF (--insecure): the targets' identity was not checked"
    assert f"WARNING: {off}" in run.stdout
    assert junit_properties(report)["tls-verification"] == UNVERIFIED
    assert "InsecureRequestWarning" not in run.stderr  # said once in the report, not per request


# --- mutual TLS -----------------------------------------------------------------------------------------


def test_mutual_tls_without_a_client_certificate_names_it(pki: Pki, mutual_url: str) -> None:
    run = cli("--wepay-url", mutual_url, "--ca-cert", str(pki.ca), *QUICK)
    assert error_line(run) == (
        f"wepay target {mutual_url} requires a client certificate (mutual TLS): it asked for one and none was "
        "given (--client-cert FILE and --client-key FILE)"
    )
    assert run.wall < 20, run.wall


def test_mutual_tls_with_the_client_certificate_passes(pki: Pki, mutual_url: str) -> None:
    run = cli(
        "--wepay-url", mutual_url, "--ca-cert", str(pki.ca),
        "--client-cert", str(pki.client_cert), "--client-key", str(pki.client_key), *QUICK,
    )  # fmt: skip
    conformant_over_tls(run)


def test_mutual_tls_with_key_and_certificate_in_one_file_from_the_environment(pki: Pki, mutual_url: str) -> None:
    env = {"BILLING_CA_CERT": str(pki.ca), "BILLING_CLIENT_CERT": str(pki.client_combined)}
    conformant_over_tls(cli("--mifumo-url", mutual_url, *QUICK, env=env))


def test_a_client_certificate_the_server_does_not_trust_is_named(pki: Pki, mutual_url: str, tmp_path: Path) -> None:
    stranger = make_pki(tmp_path)  # a client certificate from another CA
    run = cli(
        "--wepay-url", mutual_url, "--ca-cert", str(pki.ca),
        "--client-cert", str(stranger.client_cert), "--client-key", str(stranger.client_key), *QUICK,
    )  # fmt: skip
    assert error_line(run).startswith(
        f"wepay target {mutual_url} refused the client certificate --client-cert {stranger.client_cert}: "
    )


# --- the files themselves, checked before the first request ---------------------------------------------


def test_tls_files_that_cannot_be_used_are_refused_at_start(pki: Pki, tmp_path: Path) -> None:
    # Nothing listens on the target: a line about the files proves they were checked before any request.
    target = ("--wepay-url", f"https://127.0.0.1:{free_port()}", *QUICK)
    missing = tmp_path / "missing.pem"
    assert error_line(cli(*target, "--ca-cert", str(missing))) == f"--ca-cert {missing}: no such file"
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    assert error_line(cli(*target, "--ca-cert", str(not_pem))).startswith(f"--ca-cert {not_pem}: not a PEM CA")
    assert error_line(cli(*target, "--client-cert", str(pki.client_cert), "--client-key", str(pki.server_key))) == (
        f"--client-cert {pki.client_cert} / --client-key {pki.server_key}: cannot be used (key values mismatch; "
        "a PEM certificate and its unencrypted private key are needed)"
    )
    assert error_line(cli(*target, "--client-key", str(pki.client_key))) == (
        "--client-key needs the certificate it belongs to: --client-cert FILE"
    )
    assert error_line(cli(*target, "--insecure", "--ca-cert", str(pki.ca))) == (
        "--insecure skips the certificate check that --ca-cert is for: give one of them"
    )


# --- the pytest plugin ----------------------------------------------------------------------------------


def test_the_pytest_plugin_takes_the_same_tls_options(pki: Pki, https_url: str, tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    report = tmp_path / "pytest.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path), "--junitxml", str(report),
         "--conformance-wepay-url", https_url, "--conformance-max-examples", "2", "--conformance-insecure"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "billing-conformance: TLS certificate verification is OFF (--conformance-insecure)" in done.stdout
    properties = {p.get("name"): p.get("value") for p in ET.parse(report).getroot().iterfind(".//property")}
    assert properties["tls-verification"] == UNVERIFIED
