"""What a report covers: a period of Asia/Shanghai days, merchant accounts and channels, inside a scope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.db import as_id
from complaintdesk.errors import ActionRefused

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: The period presets offered by the dashboard (days, ending today).
PRESETS: dict[str, int] = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
DEFAULT_PRESET = "30d"
#: The longest period a report may cover (two years and a day: a leap year fits twice).
MAX_DAYS = 731
CHANNELS = ("wechatpay", "miniprogram", "huishouqian")
#: At most this many accounts or channels may be picked at once.
MAX_CHOICES = 50


class ReportInputError(ActionRefused):
    """A report parameter was refused (``field`` names it); nothing was computed."""


@dataclass(frozen=True)
class ReportFilters:
    """A closed range of Asia/Shanghai days, and optionally some merchant accounts and channels."""

    date_from: date
    date_to: date
    account_ids: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()
    preset: str = ""  # the preset it came from ('' for a custom range)

    @property
    def days(self) -> list[date]:
        """Every day of the period, in order."""
        return [self.date_from + timedelta(days=n) for n in range((self.date_to - self.date_from).days + 1)]

    @property
    def start(self) -> datetime:
        """The first instant of the period (UTC)."""
        return day_start(self.date_from)

    @property
    def end(self) -> datetime:
        """The first instant after the period (UTC)."""
        return day_start(self.date_to + timedelta(days=1))

    def as_params(self) -> list[tuple[str, str]]:
        """The filters as query parameters (a preset, or a custom range)."""
        out: list[tuple[str, str]] = []
        if self.preset:
            out.append(("period", self.preset))
        else:
            out += [("from", self.date_from.isoformat()), ("to", self.date_to.isoformat())]
        out += [("account", str(a)) for a in self.account_ids]
        out += [("channel", c) for c in self.channels]
        return out


def day_start(day: date) -> datetime:
    """Midnight of an Asia/Shanghai day, in UTC."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(UTC)


def today(now: datetime) -> date:
    """The Asia/Shanghai day of ``now``."""
    return now.astimezone(SHANGHAI).date()


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReportInputError(f"{name} must be a day like 2026-06-01", field=name) from None


def parse(params: Mapping[str, Any] | Sequence[tuple[str, str]], *, now: datetime) -> ReportFilters:
    """Filters from query parameters (``period`` or ``from``/``to``, repeated ``account``/``channel``).

    Unlike the inbox filters, a bad value is refused (ReportInputError) rather than ignored: a report
    quietly covering something else than asked would mislead.
    """
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    single = {k: str(v).strip() for k, v in pairs}
    accounts_raw = [str(v).strip() for k, v in pairs if k == "account" and str(v).strip()]
    channels = tuple(dict.fromkeys(str(v).strip() for k, v in pairs if k == "channel" and str(v).strip()))
    if len(accounts_raw) > MAX_CHOICES or len(channels) > MAX_CHOICES:
        raise ReportInputError(f"at most {MAX_CHOICES} accounts and channels", field="account")
    account_ids: list[int] = []
    for raw in accounts_raw:
        value = as_id(raw)
        if value is None:
            raise ReportInputError("account must be a merchant account id", field="account")
        account_ids.append(value)
    for channel in channels:
        if channel not in CHANNELS:
            raise ReportInputError(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    last = today(now)
    custom = bool(single.get("from") or single.get("to"))
    preset = single.get("period", "") or ("" if custom else DEFAULT_PRESET)
    if preset and preset != "custom":
        if preset not in PRESETS:
            raise ReportInputError(f"period must be one of {', '.join(PRESETS)}", field="period")
        first = last - timedelta(days=PRESETS[preset] - 1)
    else:
        preset = ""
        first = _day(single.get("from", ""), "from") if single.get("from") else last - timedelta(days=29)
        last = _day(single.get("to", ""), "to") if single.get("to") else last
    if first > last:
        raise ReportInputError("the period must not end before it starts", field="from")
    if (last - first).days + 1 > MAX_DAYS:
        raise ReportInputError(f"a period covers at most {MAX_DAYS} days", field="from")
    return ReportFilters(first, last, tuple(dict.fromkeys(account_ids)), channels, preset)


def scope_clause(*, all_accounts: bool, account_ids: frozenset[int]) -> ColumnElement[bool]:
    """The complaints a caller may see (a console user's or an API token's scope)."""
    if all_accounts:
        return true()
    ids = sorted(account_ids)
    return or_(Complaint.merchant_account_id.in_(ids), Complaint.account_id.in_(ids))


def subject_conditions(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool]
) -> list[ColumnElement[bool]]:
    """Scope, accounts (a provider covers its sub-merchants) and channels; not the period."""
    where: list[ColumnElement[bool]] = [scope]
    if filters.account_ids:
        children = session.scalars(
            select(MerchantAccount.id).where(MerchantAccount.parent_id.in_(filters.account_ids))
        )
        where.append(Complaint.merchant_account_id.in_(sorted({*filters.account_ids, *children})))
    if filters.channels:
        where.append(Complaint.channel.in_(filters.channels))
    return where


def conditions(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool]
) -> list[ColumnElement[bool]]:
    """:func:`subject_conditions` plus "received during the period"."""
    return [
        *subject_conditions(session, filters, scope),
        Complaint.complained_at >= filters.start,
        Complaint.complained_at < filters.end,
    ]
