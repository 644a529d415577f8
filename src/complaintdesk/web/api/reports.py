"""The KPIs as JSON (the numbers the dashboard shows), inside the token's scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from complaintdesk.core.reports import filters as report_filters
from complaintdesk.core.reports import kpis
from complaintdesk.core.reports.tables import as_json
from complaintdesk.web.api.deps import CtxDep, ScopeDep, SessionDep

router = APIRouter(tags=["reports"])


@router.get("/reports/kpis", summary="Every KPI of a period (definitions in docs/reports.md)")
def report_kpis(
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    ctx: CtxDep,
    period: Annotated[str | None, Query(description="7d, 30d (default), 90d or 365d")] = None,
    date_from: Annotated[
        str | None, Query(alias="from", description="first day (Asia/Shanghai), YYYY-MM-DD")
    ] = None,
    date_to: Annotated[str | None, Query(alias="to", description="last day, YYYY-MM-DD")] = None,
    account: Annotated[list[str] | None, Query(description="merchant account ids (repeat)")] = None,
    channel: Annotated[
        list[str] | None, Query(description="wechatpay, miniprogram, huishouqian (repeat)")
    ] = None,
) -> dict[str, Any]:
    filters = report_filters.parse(list(request.query_params.multi_items()), now=ctx.clock.now())
    clause = report_filters.scope_clause(all_accounts=scope.all_accounts, account_ids=scope.account_ids)
    return as_json(kpis.compute(session, filters, clause))
