"""Pagination, both styles: DRF page numbers with absolute links, and signed opaque cursors.

Both reduce to a `Window` (offset, limit) over an already sorted, already filtered sequence, so a
page costs O(page size) whatever the dataset size or depth.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import orjson


@dataclass(frozen=True)
class Window:
    offset: int
    limit: int
    total: int

    @property
    def end(self) -> int:
        return min(self.offset + self.limit, self.total)

    @property
    def has_next(self) -> bool:
        return self.end < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


# -- page numbers (Mifumo, DRF PageNumberPagination) --------------------------------------------


def page_count(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / page_size))


def page_number_window(page: int, page_size: int, total: int) -> Window | None:
    """The window of a 1-based page, or None when the page is past the last (DRF: "Invalid page.")."""
    if page < 1 or page > page_count(total, page_size):
        return None
    return Window((page - 1) * page_size, page_size, total)


# A query whose every piece is `name=value` in characters urlencode() leaves alone: decoding and
# re-encoding it would give each piece back unchanged, so it is split instead (the common case).
_PLAIN_QUERY = re.compile(r"[\w.~-]+=[\w.~-]*(?:&[\w.~-]+=[\w.~-]*)*", re.ASCII)


def page_link(base_url: str, raw_query: str, page_param: str, page: int) -> str:
    """DRF's link: every other query parameter kept (sorted, as DRF's urlencode does); page 1 drops the page."""
    plain = _PLAIN_QUERY.fullmatch(raw_query) is not None
    pairs = [piece.split("=", 1) for piece in raw_query.split("&")] if plain else parse_qsl(raw_query, True)
    params = [(k, v) for k, v in pairs if k != page_param]
    if page > 1:
        params.append((page_param, str(page)))
    params.sort(key=lambda item: item[0])
    query = "&".join(f"{k}={v}" for k, v in params) if plain else urlencode(params)
    return f"{base_url}?{query}" if query else base_url


# -- opaque cursors (WePay) ---------------------------------------------------------------------


class InvalidCursor(Exception):
    """A cursor this server did not issue, or one that was altered."""


@dataclass(frozen=True)
class CursorState:
    offset: int
    page_size: int
    filters: tuple[tuple[str, str], ...]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("not base64url") from exc
    if _b64(raw) != text:  # only the canonical encoding this server writes is accepted
        raise InvalidCursor("not canonical")
    return raw


class CursorCodec:
    """`<payload>.<mac>`: base64url JSON signed with HMAC-SHA256 under a key derived from the seed."""

    MAC_BYTES = 16
    MAX_LENGTH = 2048

    def __init__(self, key: bytes, remembered: int = 4096) -> None:
        self._key = key
        # A token is a pure function of its state and the key, and clients follow the links just issued:
        # the most recent tokens this codec issued or verified are remembered both ways, so a walk does not
        # re-sign or re-verify them. Nothing refused is remembered; a worker that did not issue a token
        # verifies it in full.
        self._remembered = remembered
        self._states: dict[str, CursorState] = {}
        self._tokens: dict[CursorState, str] = {}

    @classmethod
    def for_dataset(cls, seed: int | None, fingerprint: str) -> CursorCodec:
        material = f"billing-mock cursor v1|{seed}|{fingerprint}".encode()
        return cls(hashlib.sha256(material).digest())

    def _mac(self, payload: bytes) -> bytes:
        return hmac.digest(self._key, payload, "sha256")[: self.MAC_BYTES]

    def _remember(self, token: str, state: CursorState) -> None:
        if len(self._states) >= self._remembered:  # oldest first out (dicts keep insertion order)
            del self._tokens[self._states.pop(next(iter(self._states)))]
        self._states[token] = state
        self._tokens[state] = token

    def encode(self, state: CursorState) -> str:
        token = self._tokens.get(state)
        if token is None:
            payload = orjson.dumps({"o": state.offset, "s": state.page_size, "f": [list(f) for f in state.filters]})
            token = f"{_b64(payload)}.{_b64(self._mac(payload))}"
            self._remember(token, state)
        return token

    def decode(self, token: str) -> CursorState:
        state = self._states.get(token)
        if state is None:
            state = self._verify(token)
            self._remember(token, state)
        return state

    def _verify(self, token: str) -> CursorState:
        if len(token) > self.MAX_LENGTH or token.count(".") != 1:
            raise InvalidCursor("malformed")
        payload_text, mac_text = token.split(".")
        payload, mac = _unb64(payload_text), _unb64(mac_text)
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidCursor("bad signature")
        try:
            data = orjson.loads(payload)
            state = CursorState(int(data["o"]), int(data["s"]), tuple((str(k), str(v)) for k, v in data["f"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidCursor("bad payload") from exc
        if state.offset < 0 or state.page_size < 1:
            raise InvalidCursor("out of range")
        return state
