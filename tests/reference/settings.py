"""Django settings of the reference, shaped like a real deployment's and read from the environment.

Django's settings are process-global, so each configuration (time zone, type filter, broken variant) is a
process of its own: `tests.reference.serve` sets the `REFERENCE_*` variables and then starts Django with
`DJANGO_SETTINGS_MODULE=tests.reference.settings`, as a deployment reads its `.env`.
"""

from __future__ import annotations

import os
from datetime import timedelta

from tests.reference.choices import TYPE_FILTERS, VARIANTS

SECRET_KEY = os.environ.get("REFERENCE_SECRET_KEY", "drf-reference-only-not-a-secret-signing-key")
DEBUG = False  # a production answer: no debug pages, and APPEND_SLASH redirects even a POST
ALLOWED_HOSTS = ["*"]  # tests reach it as 127.0.0.1:<port>; links are built from that Host header

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",  # the browsable API's {% static %} tags, as in any DRF deployment
    "rest_framework",
    "django_filters",
    "tests.reference",
]

# The request log is outermost, so it records what the client got (CommonMiddleware's 301 included).
MIDDLEWARE = [
    "tests.reference.requestlog.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
APPEND_SLASH = True

ROOT_URLCONF = "tests.reference.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
STATIC_URL = "static/"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("REFERENCE_DATABASE", ":memory:"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = os.environ.get("REFERENCE_TIME_ZONE", "UTC")  # Mifumo runs in Africa/Dar_es_Salaam
LANGUAGE_CODE = "en-us"
USE_I18N = True

# Only authentication and permissions are set: renderers, parsers, metadata and the exception handler are
# DRF's defaults, so their answers (Vary: Accept, OPTIONS' renders/parses, error bodies) are DRF's own.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

# simplejwt's defaults but the lifetime Mifumo uses; its JWTAuthentication already says realm="api".
SIMPLE_JWT = {"ACCESS_TOKEN_LIFETIME": timedelta(seconds=3600)}

# The reference's own switches (not Django's): see tests/reference/views.py.
REFERENCE_TYPE_FILTER = os.environ.get("REFERENCE_TYPE_FILTER", "serializer")
REFERENCE_VARIANT = os.environ.get("REFERENCE_VARIANT") or None
REFERENCE_REQUEST_LOG = os.environ.get("REFERENCE_REQUEST_LOG") or None

if REFERENCE_TYPE_FILTER not in TYPE_FILTERS:
    raise ValueError(f"REFERENCE_TYPE_FILTER must be one of {TYPE_FILTERS}, not {REFERENCE_TYPE_FILTER!r}")
if REFERENCE_VARIANT is not None and REFERENCE_VARIANT not in VARIANTS:
    raise ValueError(f"REFERENCE_VARIANT must be one of {VARIANTS}, not {REFERENCE_VARIANT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    # 4xx answers are the point of the reference; only server errors are worth a line.
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False}},
}
