"""`billing-mock proxy`: the validating proxy's command line, thin over `create_proxy_app`.

    billing-mock proxy --mifumo-upstream URL --wepay-upstream URL [--port 4010] [--record FILE]
                       [--report FILE] [--junit-xml FILE] [--report-html FILE] [--strict] [--upstream-timeout S]

Every flag also reads its `BILLING_MOCK_*` variable. The recording and the reports (JSON, JUnit, HTML) are
written at shutdown (SIGINT, SIGTERM); the recording also on `POST /__mock/record/flush`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from billing_contract import MIFUMO, WEPAY
from fixtures import DatasetSize
from mock_server import flags
from mock_server.config import MockConfig
from mock_server.proxy.app import FLUSH_PATH, UVICORN_OPTIONS, VIOLATIONS_PATH, ProxyApp, create_proxy_app
from mock_server.proxy.config import DEFAULT_UPSTREAM_TIMEOUT, ProxyConfig, ProxyConfigError


def proxy_parser() -> argparse.ArgumentParser:
    parser = flags.Parser(
        prog="billing-mock proxy",
        description="Forward each API to a real backend, check every exchange against the contract, "
        "and optionally record what comes back as fixtures. An API without an upstream is served by the mock.",
    )
    flag = flags.add_flag
    flag(
        parser, "--mifumo-upstream", "Mifumo base URL to forward to", "none", default=flags.env_value("mifumo-upstream")
    )
    flag(parser, "--wepay-upstream", "WePay base URL to forward to", "none", default=flags.env_value("wepay-upstream"))
    flag(parser, "--host", "address to listen on", "127.0.0.1", default=flags.env_value("host", "127.0.0.1"))
    flag(parser, "--port", "port to listen on", 4010, type=int, default=flags.integer("port", 4010))
    record_help = "write every distinct record and statement seen to this fixtures file (JSON or YAML)"
    flag(parser, "--record", record_help, "none", type=Path, default=flags.env_value("record"))
    flag(
        parser,
        "--report",
        "write the violations as JSON here at shutdown",
        "none",
        type=Path,
        default=flags.env_value("report"),
    )
    junit_help = "write a JUnit report (a test case per operation and rule) here at shutdown"
    flag(parser, "--junit-xml", junit_help, "none", type=Path, default=flags.env_value("junit-xml"))
    html_help = "write the violations as one self-contained HTML page here at shutdown"
    flag(parser, "--report-html", html_help, "none", type=Path, default=flags.env_value("report-html"))
    strict_help = "replace a violating answer with 502 naming the violations (env BILLING_MOCK_STRICT)"
    parser.add_argument("--strict", action="store_true", default=flags.switch("strict"), help=strict_help)
    timeout = flags.number("upstream-timeout", DEFAULT_UPSTREAM_TIMEOUT, float)
    timeout_help = "seconds to wait for an upstream's answer (then 504)"
    flag(parser, "--upstream-timeout", timeout_help, DEFAULT_UPSTREAM_TIMEOUT, type=float, default=timeout)
    levels = flags.LOG_LEVELS
    flag(
        parser,
        "--log-level",
        "uvicorn's log level",
        "info",
        default=flags.env_value("log-level", "info"),
        choices=levels,
    )
    token_help = "token the tooling routes (violations, record flush) require"
    flag(parser, "--admin-token", token_help, "none (open on loopback)", default=flags.env_value("admin-token"))
    flags.add_dataset_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> ProxyConfig:
    upstreams = {api: url for api, url in ((MIFUMO, args.mifumo_upstream), (WEPAY, args.wepay_upstream)) if url}
    mock = MockConfig(
        seed=args.seed,
        size=DatasetSize(records=args.records, statements=args.statements, accounts=args.accounts),
        admin_token=args.admin_token,
        host=args.host,
    )
    try:
        return ProxyConfig(
            upstreams=upstreams,
            upstream_timeout=args.upstream_timeout,
            strict=args.strict,
            record_path=args.record,
            report_path=args.report,
            junit_path=args.junit_xml,
            html_path=args.report_html,
            mock=mock,
        )
    except ProxyConfigError as exc:
        raise flags.ConfigurationError(str(exc)) from None


def banner(app: ProxyApp, host: str, port: int) -> str:
    base = f"http://{host}:{port}"
    lines = [f"billing-mock proxy on {base}"]
    for api in (MIFUMO, WEPAY):
        target = app.config.upstreams.get(api)
        lines.append(f"  {api:<7} -> {target}" if target else f"  {api:<7} -> served by the mock")
    lines.append(
        f"  Violations {base}{VIOLATIONS_PATH}"
        + ("   (strict: violating answers become 502)" if app.config.strict else "")
    )
    if app.recorder is not None:
        lines.append(f"  Recording to {app.recorder.path} (at shutdown, and POST {base}{FLUSH_PATH})")
    return "\n".join(lines)


def proxy(argv: Sequence[str]) -> int:
    flags.stop_on_sigterm()  # as the mock: a clean stop, and at shutdown the outputs are written
    args = proxy_parser().parse_args(argv)
    if not 0 < args.port < 65536:
        raise flags.ConfigurationError(f"--port must be 1..65535, got {args.port}")
    app = create_proxy_app(config_from_args(args))
    flags.check_port(args.host, args.port)
    print(banner(app, args.host, args.port), flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=flags.logs_access(args.log_level),
        lifespan="on",
        timeout_graceful_shutdown=10,
        **UVICORN_OPTIONS,
    )
    return 0
