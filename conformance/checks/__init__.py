"""The built-in semantic checks, registered as their modules load (`conformance.registry.check`)."""

from conformance.checks import mifumo, wepay
from conformance.registry import REGISTRY, SemanticCheck

__all__ = ["checks_for", "mifumo", "wepay"]


def checks_for(api: str) -> list[SemanticCheck]:
    """Every registered check of one API, built-in ones included, in registration order."""
    return [c for c in REGISTRY.values() if c.api == api]
