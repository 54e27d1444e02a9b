"""The reference's configuration names, shared by its command line and its settings.

A module of its own because serve.py must not import the settings module before it has set the environment
that module reads (Django would then find it already imported, with the defaults).
"""

from __future__ import annotations

TYPE_FILTERS = ("filterset", "serializer")
VARIANTS = ("limit-offset", "type-ignored", "wrong-count", "next-drops-type", "no-auth", "empty-past-end")
