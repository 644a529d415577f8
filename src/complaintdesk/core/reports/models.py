"""Indexes the reports and incremental pulls read (no tables of their own; migration ``0009r``).

* ``complaint (updated_at, id)``: ``GET /api/v1/complaints?updated_since=…`` walks it in cursor order.
* ``complaint (resolved_at)``: the backlog counts finishes per day.
* ``timeline_entry (kind, complaint_id)``: which complaints ever had an SLA warning or breach.
* ``outbound_action (kind, status, complaint_id)``: which complaints had a refund decision sent.

Migration ``0010r`` adds ``outbound_action (created_at)`` (actions per day) and ``complaint
(payer_openid, merchant_account_id, complained_at)`` (did the payer complain before; payer first, so
the planner never walks it for a merchant's complaints), read when the
roll-up (``rollup_models``) is refreshed and for the days read live.
"""

from __future__ import annotations

from sqlalchemy import Index

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.timeline.models import TimelineEntry

REPORT_INDEXES = (
    Index("ix_complaint_updated", Complaint.updated_at, Complaint.id),
    Index("ix_complaint_resolved", Complaint.resolved_at),
    Index("ix_timeline_kind_complaint", TimelineEntry.kind, TimelineEntry.complaint_id),
    Index(
        "ix_outbound_action_kind_status",
        OutboundAction.kind,
        OutboundAction.status,
        OutboundAction.complaint_id,
    ),
    Index("ix_outbound_action_created", OutboundAction.created_at),
    Index(
        "ix_complaint_payer_merchant",
        Complaint.payer_openid,
        Complaint.merchant_account_id,
        Complaint.complained_at,
    ),
)
