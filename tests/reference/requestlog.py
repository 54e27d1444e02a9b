"""Every request the reference answered, one JSON line each, so a test can prove which requests were made."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

_LOCK = threading.Lock()  # uvicorn runs WSGI requests on a thread pool: one line is never interleaved


class RequestLogMiddleware:
    """Outermost middleware: it sees the status the client gets, redirects and errors included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.path = settings.REFERENCE_REQUEST_LOG

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if self.path:
            line = json.dumps(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": request.META.get("QUERY_STRING", ""),
                    "status": response.status_code,
                }
            )
            with _LOCK, open(self.path, "a", encoding="utf-8") as log:
                log.write(line + "\n")
        return response
