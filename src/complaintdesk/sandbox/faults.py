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
    "drop_response_after_apply_rate",
)

#: Queued after-apply outcome meaning "apply, then lose the answer" (see ``drop_next_response``).
DROP = 0


def _push(queues: dict[str, list[int]], endpoint: str, value: int, times: int) -> None:
    if times < 1:
        raise ValueError("times must be >= 1")
    queues.setdefault(endpoint, []).extend([value] * times)


def _pop(queues: dict[str, list[int]], endpoint: str) -> int | None:
    queue = queues.get(endpoint)
    if not queue:
        return None
    value = queue.pop(0)
    if not queue:
        del queues[endpoint]
    return value


@dataclass
class Faults:
    """What a simulator should get wrong, and how often (rates are probabilities 0..1).

    Write endpoints also consult the *after-apply* faults: the action is applied to the state, then
    the answer is an error (``fail_next(..., after_apply=True)``) or never arrives
    (``drop_next_response`` / ``drop_response_after_apply_rate``).
    """

    drop_notification_rate: float = 0.0
    duplicate_rate: float = 0.0
    signtest_rate: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_delay: float = 30.0
    latency: float = 0.0
    drop_response_after_apply_rate: float = 0.0
    _one_shots: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _after_apply: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def fail_next(
        self, endpoint: str, status: int = 500, times: int = 1, *, after_apply: bool = False
    ) -> None:
        """Make the next ``times`` calls of ``endpoint`` answer ``status``.

        By default the error replaces the call (after authentication, nothing applied); with
        ``after_apply=True`` (write endpoints only) the action is applied first, then ``status`` is answered.
        """
        if after_apply and status == DROP:
            raise ValueError("use drop_next_response() to lose answers")
        _push(self._after_apply if after_apply else self._one_shots, endpoint, status, times)

    def drop_next_response(self, endpoint: str, times: int = 1) -> None:
        """Apply the next ``times`` calls of write ``endpoint``, then drop the connection unanswered."""
        _push(self._after_apply, endpoint, DROP, times)

    def take(self, endpoint: str) -> int | None:
        """Consume and return the next one-shot status for ``endpoint``, if any."""
        return _pop(self._one_shots, endpoint)

    def take_after_apply(self, endpoint: str) -> int | None:
        """Consume the next after-apply outcome for ``endpoint``: a status, ``DROP``, or None."""
        return _pop(self._after_apply, endpoint)

    def pending_one_shots(self) -> dict[str, list[int]]:
        """A copy of the queued one-shot faults (before apply)."""
        return {name: list(queue) for name, queue in self._one_shots.items()}

    def pending_after_apply(self) -> dict[str, list[int]]:
        """A copy of the queued after-apply outcomes (``0`` = drop the answer)."""
        return {name: list(queue) for name, queue in self._after_apply.items()}

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
        data["after_apply"] = self.pending_after_apply()
        return data
