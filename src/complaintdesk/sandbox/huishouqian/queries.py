"""The read methods: ``COMPLAINT_QUERY``, ``COMPLAINT_QUERY_HISTORY``, ``COMPLAINT_FILE_DOWNLOAD``.

Paging: ``data`` is ``matches[offset:offset+limit]`` in complaint-time order, ``offset`` is echoed and
``totalSize`` is the number of matches at every offset (the seed calls it 返回条数; UNCONFIRMED whether
it is the page size or the total: the total is what makes paging possible). ``limit`` defaults to 100:
0..500 for the list (seed), 1..300 for history (WeChat's history limit, ASSUMPTION).

Who sees what: a merchant sees its own complaints. An agent passes ``agentMerchantNo`` = its own number
and sees its merchants' complaints (optionally one, via ``merchantNo``). Every method taking a
``complaintId`` accepts the complaint's merchant and that merchant's agent.
"""

from __future__ import annotations

import base64
from typing import Any

from complaintdesk.sandbox.huishouqian import params as p
from complaintdesk.sandbox.huishouqian.codes import (
    AGENT_MISMATCH,
    BAD_PARAMS,
    MERCHANT_MISMATCH,
    NO_COMPLAINT,
    GatewayError,
)
from complaintdesk.sandbox.huishouqian.envelope import Call
from complaintdesk.sandbox.huishouqian.model import SHANGHAI, Complaint
from complaintdesk.sandbox.huishouqian.state import HuishouqianState, UnknownComplaint


def visible_complaint(state: HuishouqianState, call: Call, complaint_id: str) -> Complaint:
    """The complaint, if the caller may see it (``130003`` / ``130004`` otherwise)."""
    try:
        complaint = state.get(complaint_id)
    except UnknownComplaint:
        raise GatewayError(NO_COMPLAINT) from None
    if not state.merchants.can_see(call.merchant_no, complaint.merchant_no):
        raise GatewayError(MERCHANT_MISMATCH)
    return complaint


def own_merchant_only(call: Call) -> None:
    """Outside the list query, a ``merchantNo`` in ``signContent`` must be the caller's own."""
    merchant_no = call.params.get("merchantNo")
    if merchant_no not in (None, "", call.merchant_no):
        raise GatewayError(MERCHANT_MISMATCH)


def _scope(state: HuishouqianState, call: Call) -> set[str]:
    """Merchants whose complaints a list query covers."""
    agent = p.text(call.params, "agentMerchantNo", max_chars=32)
    merchant_no = p.text(call.params, "merchantNo", max_chars=32)
    if agent is not None:
        if agent != call.merchant_no or not state.merchants.is_agent(call.merchant_no):
            raise GatewayError(AGENT_MISMATCH)
        members = call.merchant.merchants
        if merchant_no is not None:
            if merchant_no not in members:
                raise GatewayError(MERCHANT_MISMATCH)
            return {merchant_no}
        return set(members)
    if merchant_no is not None and merchant_no != call.merchant_no:
        raise GatewayError(MERCHANT_MISMATCH)
    return {call.merchant_no}


def query(state: HuishouqianState, call: Call) -> dict[str, Any]:
    """``COMPLAINT_QUERY``: filtered, paged complaint list."""
    params = call.params
    limit = p.integer(params, "limit", 100, 0, state.max_query_limit)
    offset = p.integer(params, "offset", 0, 0, None)
    scope = _scope(state, call)
    complaint_id = p.text(params, "complaintId", max_chars=64)
    trade_no = p.text(params, "merchantTradeNo", max_chars=64)
    today = state.now().astimezone(SHANGHAI).date()
    window = p.date_window(params, today, state.max_span_days, by_id=bool(complaint_id or trade_no))
    if complaint_id is not None:
        complaint = visible_complaint(state, call, complaint_id)
        if complaint.merchant_no not in scope:
            raise GatewayError(MERCHANT_MISMATCH)
    begin, end = window if window is not None else (None, None)
    found = state.find(scope, begin=begin, end=end, complaint_id=complaint_id, merchant_trade_no=trade_no)
    page = [c.document() for c in found[offset : offset + limit]]
    return {"data": page, "offset": offset, "totalSize": len(found)}


def history(state: HuishouqianState, call: Call) -> dict[str, Any]:
    """``COMPLAINT_QUERY_HISTORY``: the negotiation history, oldest first, paged."""
    own_merchant_only(call)
    complaint_id = p.complaint_id(call.params)
    limit = p.integer(call.params, "limit", 100, 1, state.history_max_limit)
    offset = p.integer(call.params, "offset", 0, 0, None)
    entries = visible_complaint(state, call, complaint_id).history
    page = [entry.document() for entry in entries[offset : offset + limit]]
    return {"data": page, "offset": offset, "totalSize": len(entries)}


def download(state: HuishouqianState, call: Call) -> dict[str, Any]:
    """``COMPLAINT_FILE_DOWNLOAD``: ``{bytes: Base64, suffix: "png"|"jpg"|"bmp"}`` of one image.

    ``mediaUrl`` must be an ``imageList`` URL of this complaint's history, used verbatim (percent-escapes
    intact); ``mediaType`` is accepted and not checked (its values are unknown).
    """
    own_merchant_only(call)
    complaint = visible_complaint(state, call, p.complaint_id(call.params))
    url = p.text(call.params, "mediaUrl", required=True)
    p.text(call.params, "mediaType", max_chars=64)
    if url is None or state.media.complaint_of(url) != complaint.complaint_id:
        raise GatewayError(BAD_PARAMS, "mediaUrl不存在或不属于该投诉单")
    data, suffix = state.media.content(url)
    return {"bytes": base64.b64encode(data).decode("ascii"), "suffix": suffix}
