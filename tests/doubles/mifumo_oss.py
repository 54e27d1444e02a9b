"""A double of the open-source Mifumo backend (MGASALUCAS/mifumosms_backend at 611472f: Django 5.2,
DRF 3.16, simplejwt 5.5) as it was observed answering `GET /api/billing/history/` (../shared/api-facts.md,
last section). It does not follow the documented contract, and the suite must say so clearly:

* a valid token gets `200 {"success": true, "data": {"summary", "purchases", "payments", "usage_records",
  "custom_purchases"}}` with every record, whatever `page`, `page_size` and `type` say;
* records have no `type` or `description`, decimal-string amounts, `+03:00` times, many extra fields;
* 401s exactly as DRF and simplejwt 5.5 answer them (`Token is invalid`), with the DRF challenge;
* other methods get DRF's 405 with `Allow: GET, HEAD, OPTIONS`, once authenticated (DRF authenticates first);
* every answer carries Django's and DRF's extra headers.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HISTORY = "/api/billing/history/"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.oss-double-access-token.sig"
EAT = timezone(timedelta(hours=3))
EXTRA_HEADERS = {
    "Vary": "Accept, origin",
    "Allow": "GET, HEAD, OPTIONS",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
BAD_HEADER = {
    "detail": "Authorization header must contain two space-delimited values",
    "code": "bad_authorization_header",
}
TOKEN_NOT_VALID = {
    "detail": "Given token not valid for any token type",
    "code": "token_not_valid",
    "messages": [{"token_class": "AccessToken", "token_type": "access", "message": "Token is invalid"}],
}


def _record(rng: random.Random, index: int, kind: str) -> dict[str, Any]:
    created = datetime(2025, 11, 20, 11, 0, tzinfo=EAT) - timedelta(hours=7 * index)
    record: dict[str, Any] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "status": rng.choice(["pending", "completed", "failed"]),
        "currency": "TZS",
        "created_at": created.isoformat(),
        "updated_at": created.isoformat(),
        "tenant": str(uuid.UUID(int=rng.getrandbits(128))),
        "user": rng.randint(1, 9),
    }
    # 15-23 extra fields per record, as observed.
    record.update({f"field_{n}": rng.choice([None, "", "x", 0]) for n in range(rng.randint(12, 20))})
    if kind == "usage":
        record["cost"] = f"{rng.randint(1, 900) * 25}.00"
        record["credits_used"] = rng.randint(1, 40)
    else:
        record["amount"] = f"{rng.randint(1, 60) * 5000}.00"
        record["reference"] = f"REF{rng.randint(10000, 99999)}"
    return record


def _data(records: int = 60, seed: int = 611472) -> dict[str, Any]:
    rng = random.Random(seed)
    kinds = ["purchases", "payments", "usage_records"]
    grouped: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for index in range(records):
        kind = kinds[index % 3]
        grouped[kind].append(_record(rng, index, "usage" if kind == "usage_records" else kind))
    summary = {
        "total_purchases": len(grouped["purchases"]),
        "total_payments": len(grouped["payments"]),
        "total_usage_records": len(grouped["usage_records"]),
        "total_custom_purchases": 0,
        "total_amount_purchased": "0.00",
        "total_amount_paid": "0.00",
        "total_usage_cost": "0.00",
        "total_credits_used": 0,
    }
    return {"summary": summary, **grouped, "custom_purchases": []}


def _json(body: Any, status: int, **headers: str) -> Response:
    return Response(json.dumps(body), status, {**EXTRA_HEADERS, **headers}, media_type="application/json")


def _unauthorized(request: Request) -> Response | None:
    """simplejwt 5.5.1's JWTAuthentication: no Bearer header is "not provided", a Bearer header that is not
    exactly the scheme and one token a bad header, a bad token "not valid"."""
    parts = request.headers.get("authorization", "").split()
    if not parts or parts[0] != "Bearer":
        body = NOT_PROVIDED
    elif len(parts) != 2:
        body = BAD_HEADER
    elif parts[1] == TOKEN:
        return None
    else:
        body = TOKEN_NOT_VALID
    return _json(body, 401, **{"WWW-Authenticate": 'Bearer realm="api"'})


def make_app(records: int = 60) -> Starlette:
    data = _data(records)

    async def history(request: Request) -> Response:
        refused = _unauthorized(request)
        if refused is not None:
            return refused
        if request.method in ("GET", "HEAD"):
            # `page`, `page_size` and `type` are ignored: every record, every time.
            return _json({"success": True, "data": data}, 200)
        if request.method == "OPTIONS":
            meta = {"name": "Billing History", "description": "", "renders": ["application/json"], "parses": []}
            return _json(meta, 200)
        return _json({"detail": f'Method "{request.method}" not allowed.'}, 405)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
    return Starlette(routes=[Route(HISTORY, history, methods=methods)])
