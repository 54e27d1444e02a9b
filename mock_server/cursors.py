"""WePay's opaque cursors: each carries the window and the filters of the walk it belongs to, signed so
that a forged or altered one is refused (400), with a key derived from the seed and the dataset, so any
worker or process serving the same data accepts any other's cursors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

import orjson


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
