"""Sliding-window rate limits shared by the simulators."""

from __future__ import annotations

from collections import deque


class SlidingWindows:
    """Per-key sliding 60-second windows with per-name limits."""

    def __init__(self, limits: dict[str, int], span: float = 60.0) -> None:
        self.limits = limits
        self.span = span
        self._windows: dict[tuple[str, str], deque[float]] = {}

    def admit(self, key: str, name: str, now: float) -> bool:
        """Record a call at ``now``; False (and not recorded) when the window is full."""
        limit = self.limits.get(name)
        if limit is None:
            return True
        window = self._windows.setdefault((key, name), deque())
        while window and window[0] <= now - self.span:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True
