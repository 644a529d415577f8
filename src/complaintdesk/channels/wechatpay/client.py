"""Async client for the WeChat Pay APIv3 consumer-complaints API (read and write side).

The client is assembled from three layers, one module each:

* :mod:`.transport` — signing, budgets, retry policy, response verification, error mapping;
* :mod:`.reads` — list, detail, negotiation history, platform certificates, image download;
* :mod:`.commands` — reply, immediate-service reply, complete, refund decision, image upload, callback URL.
"""

from __future__ import annotations

from complaintdesk.channels.wechatpay.commands import WeChatPayCommands
from complaintdesk.channels.wechatpay.reads import MAX_WINDOW_DAYS, WECHATPAY_API_HOSTS, WeChatPayReads
from complaintdesk.channels.wechatpay.transport import WeChatPayCredentials

__all__ = ["MAX_WINDOW_DAYS", "WECHATPAY_API_HOSTS", "WeChatPayClient", "WeChatPayCredentials"]


class WeChatPayClient(WeChatPayReads, WeChatPayCommands):
    """Signed, budgeted, verified calls to the complaint endpoints for one credential set.

    Usage::

        async with WeChatPayClient(credentials, settings=settings.wechatpay) as client:
            async for complaint in client.iter_complaints(begin_date=d1, end_date=d2):
                ...
            await client.reply(complaint_id, complainted_mchid=mchid, content="已为您处理", images=[])
    """
