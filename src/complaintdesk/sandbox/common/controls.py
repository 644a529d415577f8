"""The ``POST /sandbox/faults`` body every simulator accepts."""

from __future__ import annotations

import json
from typing import Any

from complaintdesk.sandbox.faults import Faults


def _entries(value: Any) -> list[Any]:
    return [value] if isinstance(value, dict) else list(value)


def configure_faults(faults: Faults, body: bytes, *, default_status: int) -> None:
    """Apply a JSON fault body (``fail_next``, ``drop_next``, rates); raises ValueError/KeyError/TypeError."""
    values = json.loads(body or b"{}")
    if not isinstance(values, dict):
        raise ValueError("expected a JSON object")
    for shot in _entries(values.pop("fail_next", [])):
        faults.fail_next(
            str(shot["endpoint"]),
            int(shot.get("status", default_status)),
            int(shot.get("times", 1)),
            after_apply=bool(shot.get("after_apply", False)),
        )
    for drop in _entries(values.pop("drop_next", [])):
        faults.drop_next_response(str(drop["endpoint"]), int(drop.get("times", 1)))
    faults.update(values)
