"""The validating proxy: a client's traffic forwarded to a real backend, checked against the contract
with the suite's and the mock's own rules, and optionally recorded as fixtures the mock can serve.

    billing-mock proxy --wepay-upstream https://stage-api.wepay.com [--strict] [--record data.yaml]

An API given no upstream is served by the mock as usual.
"""

from mock_server.proxy.app import ProxyApp, create_proxy_app
from mock_server.proxy.config import ProxyConfig

__all__ = ["ProxyApp", "ProxyConfig", "create_proxy_app"]
