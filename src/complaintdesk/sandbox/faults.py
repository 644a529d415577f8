"""Fault injection knobs shared by the upstream simulators."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

#: Fields that may be set from JSON (``POST /sandbox/faults``).
FAULT_FIELDS = (
    "drop_notification_rate",
    "duplicate_rate",
    "signtest_rate",
    "error_rate",
    "timeout_rate",
    "timeout_delay",
    "latency",
)


@dataclass
class Faults:
    """What a simulator should get wrong, and how often (rates are probabilities 0..1)."""

    drop_notification_rate: float = 0.0
    duplicate_rate: float = 0.0
    signtest_rate: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_delay: float = 30.0
    latency: float = 0.0
    _one_shots: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def fail_next(self, endpoint: str, status: int = 500, times: int = 1) -> None:
        """Make the next ``times`` calls of ``endpoint`` answer ``status`` (after authentication)."""
        if times < 1:
            raise ValueError("times must be >= 1")
        self._one_shots.setdefault(endpoint, []).extend([status] * times)

    def take(self, endpoint: str) -> int | None:
        """Consume and return the next one-shot status for ``endpoint``, if any."""
        queue = self._one_shots.get(endpoint)
        if not queue:
            return None
        status = queue.pop(0)
        if not queue:
            del self._one_shots[endpoint]
        return status

    def pending_one_shots(self) -> dict[str, list[int]]:
        """A copy of the queued one-shot faults."""
        return {name: list(queue) for name, queue in self._one_shots.items()}

    def update(self, values: dict[str, Any]) -> None:
        """Set rate/delay fields from a mapping; raises ``ValueError`` on unknown names or bad values."""
        for name, value in values.items():
            if name not in FAULT_FIELDS:
                raise ValueError(f"unknown fault field: {name}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number")
            number = float(value)
            if number < 0 or (name.endswith("_rate") and number > 1):
                raise ValueError(f"{name} out of range")
            setattr(self, name, number)

    def as_dict(self) -> dict[str, Any]:
        """The public fields plus queued one-shots, JSON-ready."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name in FAULT_FIELDS}
        data["fail_next"] = self.pending_one_shots()
        return data
