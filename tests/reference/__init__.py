"""A Django REST Framework reference of Mifumo's `GET /api/billing/history/`, built from the real framework.

The mock imitates Mifumo; this package is what it imitates, assembled from DRF's, simplejwt's and
django-filter's own classes as the seed page documents the endpoint, and served over a real socket in a
process of its own (`python -m tests.reference.serve`; `tests.reference.running` for tests). Where the mock
and this reference disagree, the reference is right: it is the framework the real service runs on.

Nothing here imports Django at import time except the Django modules themselves (settings, models, views,
urls, serve): the test process only spawns the reference and never configures Django.
"""
