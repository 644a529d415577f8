"""Export an inbox view or a report as CSV or XLSX, streamed: rows are read in batches and written out.

Complaint rows come from a server-side cursor (``yield_per``) selecting plain columns, so a
1,000,000-row export holds one batch at a time; XLSX uses xlsxwriter's ``constant_memory`` mode
(each row is flushed to a temporary file as it is written). Phone numbers are the masked ones unless
a ``reveal`` cipher is given (the caller checks the permission and audits the export).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.reports.filters import ReportInputError
from complaintdesk.core.reports.tables import Table
from complaintdesk.core.users.models import User
from complaintdesk.core.views import query as inbox
from complaintdesk.core.views import search
from complaintdesk.security import DataCipher

FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BATCH = 2000
_CHUNK = 64 * 1024
_SHIFT = timedelta(hours=8)
#: Columns of a complaint export (English message ids; the console translates them).
COLUMNS: tuple[str, ...] = (
    "Complaint id",
    "Channel",
    "Merchant",
    "Upstream id",
    "Status",
    "Upstream status",
    "Problem type",
    "Complained at",
    "Amount (yuan)",
    "Refund requested",
    "Refund amount (yuan)",
    "SLA",
    "Deadline",
    "First response at",
    "Finished at",
    "Assignee",
    "Phone",
    "Times complained",
    "Problem description",
)
_SELECTED = (
    Complaint.id,
    Complaint.channel,
    Complaint.merchant_account_id,
    Complaint.external_id,
    Complaint.status,
    Complaint.raw_status,
    Complaint.problem_type,
    Complaint.complained_at,
    Complaint.amount_fen,
    Complaint.refund_requested,
    Complaint.refund_amount_fen,
    Complaint.sla_state,
    Complaint.sla_due_at,
    Complaint.first_response_at,
    Complaint.resolved_at,
    Complaint.assignee_id,
    Complaint.payer_phone_masked,
    Complaint.payer_phone_enc,
    Complaint.complaint_times,
    Complaint.problem_description,
)
Cell = str | int | float | bool | None


def check_format(value: str) -> str:
    """``csv`` or ``xlsx``; anything else is refused."""
    if value not in FORMATS:
        raise ReportInputError("format must be csv or xlsx", field="format")
    return value


def _local(value: datetime | None) -> str:
    # Asia/Shanghai is UTC+8 all year: a fixed shift and isoformat are much cheaper than astimezone+strftime
    return (value.replace(tzinfo=None) + _SHIFT).isoformat(" ", "seconds") if value is not None else ""


def _yuan(fen: int | None) -> float | None:
    return None if fen is None else round(fen / 100, 2)


def inbox_statement(
    session: Session, filters: inbox.InboxFilters, scope: ColumnElement[bool], user_id: int | None
) -> Any:
    """The SELECT of an inbox view in its own order (the search term applied exactly)."""
    where = inbox.conditions(filters, scope=scope, user_id=user_id, session=session)
    if filters.q:
        where.append(search.clause(session, filters.q))
    order: list[Any]
    if filters.sort == "newest":
        order = [Complaint.complained_at.desc(), Complaint.id.desc()]
    else:  # the inbox's deadline order: dated ones first, then the rest by id
        order = [Complaint.sla_due_at.is_(None), Complaint.sla_due_at, Complaint.id]
    return select(*_SELECTED).where(*where).order_by(*order)


@dataclass(frozen=True)
class RowContext:
    """Lookups made once per export: merchant and assignee names, and the cipher when phones are shown."""

    merchants: dict[int, str]
    users: dict[int, str]
    reveal: DataCipher | None = None

    @classmethod
    def load(cls, session: Session, reveal: DataCipher | None = None) -> RowContext:
        merchants = {a.id: a.display_name or a.name for a in session.scalars(select(MerchantAccount))}
        users = {u.id: u.display_name or u.username for u in session.scalars(select(User))}
        return cls(merchants, users, reveal)

    def phone(self, masked: str | None, encrypted: str | None) -> str:
        if self.reveal is not None and encrypted:
            return self.reveal.decrypt(encrypted)
        return masked or ""


def complaint_rows(
    session: Session,
    statement: Any,
    context: RowContext,
    label: Callable[[str, str], str] | None = None,
) -> Iterator[tuple[Cell, ...]]:
    """The rows of ``statement`` (from :func:`inbox_statement`), read through a server-side cursor.

    ``label(kind, value)`` may name statuses and channels (kind ``status``/``channel``/``sla``).
    """
    name = label or (lambda _kind, value: value)
    # Core rows on the session's connection (no ORM row processing), fetched in batches
    result = session.connection().execute(statement.execution_options(yield_per=BATCH, stream_results=True))
    merchants, users, phone = context.merchants, context.users, context.phone
    for r in result:
        yield (
            r.id,
            name("channel", r.channel),
            merchants.get(r.merchant_account_id, str(r.merchant_account_id)),
            r.external_id,
            name("status", r.status),
            safe(r.raw_status),
            safe(r.problem_type),
            _local(r.complained_at),
            _yuan(r.amount_fen),
            name("bool", "yes" if r.refund_requested else "no"),
            _yuan(r.refund_amount_fen),
            name("sla", r.sla_state),
            _local(r.sla_due_at),
            _local(r.first_response_at),
            _local(r.resolved_at),
            users.get(r.assignee_id, "") if r.assignee_id else "",
            phone(r.payer_phone_masked, r.payer_phone_enc),
            r.complaint_times,
            safe(r.problem_description),
        )


# ---- writers --------------------------------------------------------------------------------------


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe(value: str | None) -> str:
    """Neutralise a spreadsheet formula an upstream text could carry (``=``, ``+``, ``-``, ``@``)."""
    if value and value.startswith(_FORMULA):
        return "'" + value
    return value or ""


def csv_chunks(columns: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[bytes]:
    """UTF-8 CSV (with a BOM, so spreadsheet programs read Chinese correctly) in ~64 KB chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def tables_csv_chunks(tables: Sequence[Table], translate: Callable[[str], str] = str) -> Iterator[bytes]:
    """Every table of a report in one CSV: a title line, the header, the rows, a blank line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    for table in (t.translated(translate) for t in tables):
        writer.writerow([table.title])
        writer.writerow(table.columns)
        writer.writerows([[safe(v) if isinstance(v, str) else v for v in row] for row in table.rows])
        writer.writerow([])
    yield buffer.getvalue().encode("utf-8")


def _xlsx_file(fill: Callable[[Any], None]) -> str:
    """Write a workbook (constant memory) to a temporary file and return its path."""
    handle, path = tempfile.mkstemp(prefix="complaintdesk-export-", suffix=".xlsx")
    os.close(handle)
    try:
        import xlsxwriter  # only exports need it (not every web process)

        workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False})
        try:
            fill(workbook)
        finally:
            workbook.close()
    except BaseException:  # a failed or abandoned export leaves no file behind
        os.unlink(path)
        raise
    return path


def _file_chunks(path: str) -> Iterator[bytes]:
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def xlsx_chunks(
    columns: Sequence[str], rows: Iterable[Sequence[Cell]], sheet: str = "complaints"
) -> Iterator[bytes]:
    """One sheet, header in bold, written row by row; the file is then streamed and deleted."""

    def fill(workbook: Any) -> None:
        bold = workbook.add_format({"bold": True})
        worksheet = workbook.add_worksheet(sheet[:31])
        worksheet.write_row(0, 0, list(columns), bold)
        for n, row in enumerate(rows, start=1):
            worksheet.write_row(n, 0, ["" if v is None else v for v in row])

    yield from _file_chunks(_xlsx_file(fill))


def tables_xlsx_chunks(tables: Sequence[Table], translate: Callable[[str], str] = str) -> Iterator[bytes]:
    """One sheet per table of a report."""

    def fill(workbook: Any) -> None:
        bold = workbook.add_format({"bold": True})
        for table in (t.translated(translate) for t in tables):
            worksheet = workbook.add_worksheet(table.key[:31])
            worksheet.write_row(0, 0, list(table.columns), bold)
            for n, row in enumerate(table.rows, start=1):
                worksheet.write_row(n, 0, ["" if v is None else v for v in row])

    yield from _file_chunks(_xlsx_file(fill))


def chunks(fmt: str, columns: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[bytes]:
    """Complaint rows in ``fmt``."""
    return csv_chunks(columns, rows) if check_format(fmt) == "csv" else xlsx_chunks(columns, rows)


def table_chunks(fmt: str, tables: Sequence[Table], translate: Callable[[str], str] = str) -> Iterator[bytes]:
    """Report tables in ``fmt``."""
    if check_format(fmt) == "csv":
        return tables_csv_chunks(tables, translate)
    return tables_xlsx_chunks(tables, translate)
