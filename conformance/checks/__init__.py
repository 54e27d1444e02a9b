"""The built-in semantic checks; importing this package registers them."""

from conformance.checks import mifumo, wepay

__all__ = ["mifumo", "wepay"]
