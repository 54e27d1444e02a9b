"""The reference as a Django app, so its model has an app label and `migrate --run-syncdb` creates its table."""

from __future__ import annotations

from django.apps import AppConfig


class ReferenceConfig(AppConfig):
    """Label `reference`: the app is the `tests.reference` package itself, with no migrations module."""

    name = "tests.reference"
    label = "reference"
    verbose_name = "Mifumo billing history (DRF reference)"
