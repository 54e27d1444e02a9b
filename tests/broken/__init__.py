"""Deliberately broken billing APIs: the mock behind an ASGI wrapper that breaks one rule each."""
