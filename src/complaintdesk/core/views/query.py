"""The inbox query used by the console (and the benchmark): filters, search, sort, keyset pages, counts.

Sorts are keyset-paged so page 1,000 costs what page 1 costs:

* ``deadline`` (default): ``sla_due_at`` ascending, complaints without a deadline last, then ``id``;
  walked in two phases (rows with a deadline, then rows without), each on an index.
* ``newest``: ``complained_at`` descending, then ``id`` descending.

Counts are bounded (:data:`COUNT_CAP`): a badge says "999+" rather than counting a million rows.
"""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, false, func, or_, select, true, tuple_
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import ACTIVE_STATUSES, Complaint
from complaintdesk.core.views import probe, search
from complaintdesk.db import Base, as_id

STATUSES = ("open", "responded", "in_platform", "resolved", "closed", "unknown")
SLA_STATES = ("ok", "warning", "breached")
NEEDS = {
    "message": Complaint.user_message_waiting,
    "refund": Complaint.refund_requested,
    "immediate": Complaint.immediate_service,
    "platform": Complaint.platform_assistance,
}
SORTS = ("deadline", "newest")
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
COUNT_CAP = 999
#: Rows of the sort order searched directly before the full-text index is asked (see list_page).
PROBE_ROWS = 20_000
_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class InboxFilters:
    """What the operator asked to see; every field is optional ('' or None = no filter)."""

    status: str = "active"  # "active" (not finished), "" (everything) or one unified status
    channel: str = ""
    account_id: int | None = None
    sla: str = ""
    assignee: str = ""  # "me", "none" or a user id
    needs: str = ""  # message | refund | immediate | platform | any
    date_from: date | None = None  # complained on or after (Asia/Shanghai day)
    date_to: date | None = None  # complained on or before (Asia/Shanghai day)
    tag_id: int | None = None
    q: str = ""
    sort: str = "deadline"

    def as_params(self) -> dict[str, str]:
        """The filters as query parameters (empty ones left out)."""
        out = {
            "status": self.status,
            "channel": self.channel,
            "account": str(self.account_id or ""),
            "sla": self.sla,
            "assignee": self.assignee,
            "needs": self.needs,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "tag": str(self.tag_id or ""),
            "q": self.q,
            "sort": self.sort if self.sort != "deadline" else "",
        }
        return {k: v for k, v in out.items() if v or (k == "status" and v == "")}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> InboxFilters:
        """Parse query parameters (or a saved view's JSON) leniently: bad values are ignored."""

        def text(name: str, allowed: tuple[str, ...] | None = None, default: str = "") -> str:
            value = str(params.get(name, default) or "").strip()[:64]
            return value if allowed is None or value in allowed or value == "" else default

        def integer(name: str) -> int | None:
            return as_id(str(params.get(name) or ""))

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(str(params.get(name) or ""))
            except ValueError:
                return None

        status = "active" if "status" not in params else text("status", ("active", *STATUSES), "active")
        assignee = text("assignee")
        if assignee not in ("", "me", "none") and as_id(assignee) is None:
            assignee = ""
        return cls(
            status=status,
            channel=text("channel"),
            account_id=integer("account"),
            sla=text("sla", SLA_STATES),
            assignee=assignee,
            needs=text("needs", (*NEEDS, "any")),
            date_from=day("from"),
            date_to=day("to"),
            tag_id=integer("tag"),
            q=str(params.get("q") or "").strip()[:64],
            sort=text("sort", SORTS, "deadline") or "deadline",
        )


@dataclass
class InboxPage:
    """One page of the inbox."""

    items: list[Complaint]
    next_cursor: str | None
    filters: InboxFilters
    extra: dict[str, Any] = field(default_factory=dict)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=_ZONE).astimezone(UTC)


def _tag_table() -> Any:
    return Base.metadata.tables.get("complaint_tag")


def conditions(
    filters: InboxFilters, *, scope: ColumnElement[bool], user_id: int | None, session: Session
) -> list[ColumnElement[bool]]:
    """The WHERE clauses for ``filters`` inside ``scope`` (a clause from ``Principal.account_filter``).

    The search term is not among them: :func:`list_page` and :func:`count` choose how to apply it.
    """
    where: list[ColumnElement[bool]] = [scope]
    if filters.status == "active":
        where.append(Complaint.status.in_(ACTIVE_STATUSES))
    elif filters.status:
        where.append(Complaint.status == filters.status)
    if filters.channel:
        where.append(Complaint.channel == filters.channel)
    if filters.account_id is not None:  # a provider's account covers its sub-merchants
        children = session.scalars(
            select(MerchantAccount.id).where(MerchantAccount.parent_id == filters.account_id)
        )
        where.append(Complaint.merchant_account_id.in_([filters.account_id, *children]))
    if filters.sla:
        where.append(Complaint.sla_state == filters.sla)
    if filters.assignee == "me":
        where.append(Complaint.assignee_id == user_id if user_id is not None else false())
    elif filters.assignee == "none":
        # Not ``IS NULL``: every finished complaint is unassigned, and an index on it would walk them all.
        where.append(func.coalesce(Complaint.assignee_id, 0) == 0)
    elif filters.assignee:
        where.append(Complaint.assignee_id == int(filters.assignee))
    if filters.needs == "any":
        where.append(or_(*(flag.is_(True) for flag in NEEDS.values())))
    elif filters.needs:
        where.append(NEEDS[filters.needs].is_(True))
    if filters.date_from:
        where.append(Complaint.complained_at >= _day_start(filters.date_from))
    if filters.date_to:
        where.append(Complaint.complained_at < _day_start(filters.date_to + timedelta(days=1)))
    if filters.tag_id is not None:
        table = _tag_table()
        where.append(
            exists().where(table.c.complaint_id == Complaint.id, table.c.tag_id == filters.tag_id)
            if table is not None
            else false()
        )
    return where


def _encode(cursor: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(value, list) or len(value) != 3:
        return None
    return value if value[2] == 0 or as_id(value[2]) is not None else None  # a row id, never huge


def _instant(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def list_page(
    *,
    session: Session,
    filters: InboxFilters,
    scope: ColumnElement[bool],
    user_id: int | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> InboxPage:
    """One keyset page of complaints matching ``filters`` inside ``scope``.

    A search term is applied in the cheapest way that is still exact: an id or order number typed in
    full is looked up by index; in a narrow filter (at most ``search.NARROW_CAP`` rows in a phase of the
    sort) the term is checked on each of its rows; otherwise a common term fills the page within the
    first rows of the sort order (``core/views/probe.py``); a rarer one is joined to the filter through
    the full-text index (SQLite: its ids, up to ``search.JOIN_CAP``; PostgreSQL, 3+ characters: the
    planner's bitmap AND of the trigram index and the filter's index); otherwise the sort order is
    searched further (:data:`PROBE_ROWS` rows), and only then is every row checked.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    where = conditions(filters, scope=scope, user_id=user_id, session=session)
    position = _decode(cursor)
    walk = _newest if filters.sort == "newest" else _by_deadline
    term = filters.q
    if not term:
        return walk(session, filters, where, position, limit, None)
    exact = search.exact_ids(session, term)
    if exact:
        return walk(session, filters, [*where, Complaint.id.in_(exact)], position, limit, None)
    narrow = _narrowing(filters)
    first = probe.Probe(term, probe.FIRST_WINDOW, narrow=narrow, joined=_joiner(session, term, narrow))
    with contextlib.suppress(probe.Inconclusive):
        return walk(session, filters, where, position, limit, first)
    with contextlib.suppress(probe.Inconclusive):
        return walk(
            session, filters, where, position, limit, probe.Probe(term, PROBE_ROWS, PROBE_ROWS // 4, narrow)
        )
    clause = search.matches(term, session.get_bind().dialect.name)
    return walk(session, filters, [*where, clause], position, limit, None)


def _joiner(session: Session, term: str, narrow: bool) -> probe.Join:
    """The term's condition through the full-text index, decided once for every phase of the sort: the
    index's ids (SQLite: up to ``search.JOIN_CAP``, elsewhere ``search.ID_CAP``), else on PostgreSQL
    (3+ characters) the planner's AND of the trigram index with the filter's; None when more match.
    PostgreSQL reads the ids only without a narrowing filter: with one, the planner reads (and rechecks)
    only the matches inside the filter instead of every match of the table."""

    def decide() -> ColumnElement[bool] | None:
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            return search.indexed_among(session, term)
        planner = search.joined_by_planner(session, term)
        ids = None
        if not (planner and narrow):
            ids = search.matching_ids(session, term)
        if ids is not None:
            return search.among(session, ids)
        return search.planned(term) if planner else None

    return probe.Join(decide)


def _narrowing(filters: InboxFilters) -> bool:
    """Whether the filters may select few rows (a status and the scope alone select many: the probe
    along the sort order goes first, without counting them)."""
    return any(
        (filters.channel, filters.account_id, filters.sla, filters.assignee, filters.needs,
         filters.date_from, filters.date_to, filters.tag_id is not None)
    )  # fmt: skip


def _by_deadline(
    session: Session,
    filters: InboxFilters,
    where: list[ColumnElement[bool]],
    position: list[Any] | None,
    limit: int,
    look: probe.Probe | None,
) -> InboxPage:
    phase, after_due, after_id = position if position else (0, None, 0)
    items: list[Complaint] = []
    if phase == 0:
        due = _instant(after_due) if after_due else None
        keyset = tuple_(Complaint.sla_due_at, Complaint.id) > tuple_(due, int(after_id)) if due else true()
        dated = [*where, Complaint.sla_due_at.is_not(None), keyset]
        items = probe.fetch(session, dated, probe.DEADLINE, limit + 1, look)
        if len(items) > limit:
            last = items[limit - 1]
            return InboxPage(items[:limit], _encode([0, _iso(last.sla_due_at), last.id]), filters)
        after_id = 0
    undated = [*where, Complaint.sla_due_at.is_(None), Complaint.id > int(after_id)]
    dated_rows = len(items)
    items += probe.fetch(session, undated, probe.BY_ID, limit - len(items) + 1, look)
    if len(items) > limit:
        items = items[:limit]
        # The dated rows filled the page exactly: the next page is the first of the undated ones.
        last_id = items[-1].id if dated_rows < limit else 0
        return InboxPage(items, _encode([1, None, last_id]), filters)
    return InboxPage(items, None, filters)


def _newest(
    session: Session,
    filters: InboxFilters,
    where: list[ColumnElement[bool]],
    position: list[Any] | None,
    limit: int,
    look: probe.Probe | None,
) -> InboxPage:
    at = _instant(position[1]) if position else None
    keyset = (
        tuple_(Complaint.complained_at, Complaint.id) < tuple_(at, int(position[2]))
        if position and at
        else true()
    )
    items = probe.fetch(session, [*where, keyset], probe.NEWEST, limit + 1, look)
    if len(items) > limit:
        last = items[limit - 1]
        return InboxPage(items[:limit], _encode([2, _iso(last.complained_at), last.id]), filters)
    return InboxPage(items, None, filters)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def count(
    *,
    session: Session,
    filters: InboxFilters,
    scope: ColumnElement[bool],
    user_id: int | None = None,
    cap: int = COUNT_CAP,
) -> int:
    """How many complaints match, counted up to ``cap + 1`` (callers show ``cap+``)."""
    where = conditions(filters, scope=scope, user_id=user_id, session=session)
    if filters.q:
        where.append(search.clause(session, filters.q))
    inner = select(Complaint.id).where(*where).limit(cap + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def counts(
    *,
    session: Session,
    views: dict[str, InboxFilters],
    scope: ColumnElement[bool],
    user_id: int | None = None,
    cap: int = COUNT_CAP,
) -> dict[str, int]:
    """Bounded counts for several views at once (the inbox badges)."""
    return {
        key: count(session=session, filters=f, scope=scope, user_id=user_id, cap=cap)
        for key, f in views.items()
    }


def builtin_views() -> dict[str, InboxFilters]:
    """The views every user has: to do, mine, unassigned, due soon, breached, waiting on the user, all."""
    return {
        "todo": InboxFilters(),
        "mine": InboxFilters(assignee="me"),
        "unassigned": InboxFilters(assignee="none"),
        "warning": InboxFilters(sla="warning"),
        "breached": InboxFilters(sla="breached"),
        "needs": InboxFilters(needs="any"),
        "all": InboxFilters(status="", sort="newest"),
    }
