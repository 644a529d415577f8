"""Link the upstream's echo of one of our actions to the action's own timeline entry.

When the outbox sends a reply or a decision, the timeline gets the action's entry at once (``a:<id>``,
our operator, its send status). Later the upstream history shows the same act as a merchant entry
(``h:<key>``). The echo is stored like any history entry — its key keeps merging idempotent and the SLA
reads it — but ``echo_of`` points it at the action's entry and the timeline shows only the action.

Matching reuses each channel's ``applied_in_history`` (the check the outbox makes after an uncertain
send): same kind of merchant entry, same text where the channel has one, no earlier than the request
minus a few minutes; an upstream reference returned by the send (a WeChat Pay ``log_id``) matches
directly. Each action takes at most one echo and each echo belongs to at most one action, oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.channels.base import ActionKind, ActionRequest, HistoryEntry
from complaintdesk.channels.registry import history_matcher
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.core.timeline.models import TimelineEntry

#: Actions that may have reached the upstream (a failed or still pending one has no echo).
_MAY_HAVE_ARRIVED = (ActionStatus.SENT, ActionStatus.SENDING, ActionStatus.UNCERTAIN)


def _request(action: OutboundAction) -> ActionRequest:
    return ActionRequest(
        action_id=action.id,
        kind=ActionKind(action.kind),
        external_id="",
        merchant_id="",
        params=action.params,
        requested_at=action.created_at,
    )


def link(
    *,
    session: Session,
    complaint_id: int,
    channel: str,
    history: list[HistoryEntry],
    stored: Sequence[TimelineEntry],
) -> int:
    """Point unlinked merchant history entries at the action entries they echo; returns links made."""
    matcher = history_matcher(channel)
    by_key = {entry.dedupe_key: entry for entry in stored}
    free = [
        (item, by_key[f"h:{item.external_id}"[:128]])
        for item in sorted(history, key=lambda h: h.occurred_at)
        if item.actor == "merchant"
        and f"h:{item.external_id}"[:128] in by_key
        and by_key[f"h:{item.external_id}"[:128]].echo_of is None
    ]
    if not free or matcher is None:
        return 0
    actions = session.scalars(
        select(OutboundAction)
        .where(OutboundAction.complaint_id == complaint_id, OutboundAction.status.in_(_MAY_HAVE_ARRIVED))
        .order_by(OutboundAction.seq)
    ).all()
    if not actions:
        return 0
    entries = {
        entry.dedupe_key: entry
        for entry in session.scalars(
            select(TimelineEntry).where(
                TimelineEntry.complaint_id == complaint_id,
                TimelineEntry.dedupe_key.in_([f"a:{a.id}" for a in actions]),
            )
        )
    }
    taken = set(
        session.scalars(
            select(TimelineEntry.echo_of).where(
                TimelineEntry.complaint_id == complaint_id, TimelineEntry.echo_of.is_not(None)
            )
        )
    )
    made = 0
    for action in actions:
        own = entries.get(f"a:{action.id}")
        if own is None or own.id in taken:
            continue
        request = _request(action)
        for index, (item, row) in enumerate(free):
            if (action.upstream_ref and item.external_id == action.upstream_ref) or matcher(request, [item]):
                row.echo_of = own.id
                own.raw = {**own.raw, "echo": row.dedupe_key, "echo_at": item.occurred_at.isoformat()}
                taken.add(own.id)
                del free[index]
                made += 1
                break
    if made:
        session.flush()
    return made
