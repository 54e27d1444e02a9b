"""`billing-mock proxy`: the validating proxy's command, thin over `create_proxy_app`.

    billing-mock proxy --mifumo-upstream URL --wepay-upstream URL [--port 4010] [--record FILE]
                       [--report FILE] [--junit-xml FILE] [--report-html FILE] [--strict] [--upstream-timeout S]

Its options, and the `BILLING_MOCK_*` variable each also reads, are `mock_server.options.PROXY`'s; `billing-mock`
(`mock_server.cli`) parses them. The recording and the reports (JSON, JUnit, HTML) are written at shutdown (SIGINT,
SIGTERM); the recording also on `POST /__mock/record/flush`.
"""

from __future__ import annotations

import argparse

import uvicorn

from billing_contract import MIFUMO, WEPAY
from fixtures import DatasetSize
from mock_server import flags
from mock_server.config import MockConfig
from mock_server.proxy.app import FLUSH_PATH, UVICORN_OPTIONS, VIOLATIONS_PATH, ProxyApp, create_proxy_app
from mock_server.proxy.config import ProxyConfig, ProxyConfigError


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


def proxy(args: argparse.Namespace) -> int:
    flags.stop_on_sigterm()  # as the mock: a clean stop, and at shutdown the outputs are written
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
