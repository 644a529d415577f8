"""Stateful fakes of the upstream complaint APIs (WeChat Pay, ...), for tests, benchmarks and the demo."""

from __future__ import annotations

from complaintdesk.sandbox.faults import Faults

__all__ = ["Faults"]
