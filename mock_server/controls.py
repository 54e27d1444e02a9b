"""The per-process controls a client team sets at start-up (`--latency`, `--error-rate`,
`--rate-limit`); the per-request ones come from `Prefer` (mock_server.pipeline.preferences). Each
control is one stage of the pipeline (mock_server.pipeline: latency, injected_errors, throttle)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_DELAY_MS = 60_000


@dataclass(frozen=True)
class ControlSettings:
    latency_ms: tuple[int, int] | None = None
    error_rate: float = 0.0
    rate_limit: bool = False
    seed: int = 0

    @property
    def deterministic(self) -> bool:
        """Whether an answer depends on the request and the data alone."""
        return self.latency_ms is None and self.error_rate == 0 and not self.rate_limit


def parse_latency(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        bounds = (int(low), int(high if sep else low))
    except ValueError:
        raise ValueError(f"latency must be MIN-MAX milliseconds, got {text!r}") from None
    if not 0 <= bounds[0] <= bounds[1] <= MAX_DELAY_MS:
        raise ValueError(f"latency must satisfy 0 <= MIN <= MAX <= {MAX_DELAY_MS}, got {text!r}")
    return bounds
