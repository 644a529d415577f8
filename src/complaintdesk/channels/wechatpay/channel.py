"""The WeChat Pay complaint channel as the core sees it (``ChannelAdapter`` and ``ActionChannel``)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from datetime import date, timedelta
from typing import Any

from complaintdesk.channels.base import (
    ActionKind,
    ActionOutcome,
    ActionRequest,
    ComplaintFacts,
    ComplaintSnapshot,
    HistoryEntry,
)
from complaintdesk.channels.wechatpay import actions
from complaintdesk.channels.wechatpay.client import WeChatPayClient
from complaintdesk.channels.wechatpay.crypto import decrypt_oaep
from complaintdesk.channels.wechatpay.mapping import to_history_entry, to_snapshot
from complaintdesk.channels.wechatpay.rich_message import to_wire
from complaintdesk.errors import ActionRefused

__all__ = ["LIST_PIECE_DAYS", "WeChatPayChannel", "split_window"]

#: Calendar days (inclusive) per list request when a longer window is split; stricter than the 30-day rule.
LIST_PIECE_DAYS = 30


def split_window(begin: date, end: date, *, days: int = LIST_PIECE_DAYS) -> Iterator[tuple[date, date]]:
    """Cover [begin, end] with consecutive inclusive pieces of at most ``days`` calendar days."""
    if end < begin:
        raise ValueError("end is before begin")
    if days < 1:
        raise ValueError("days must be at least 1")
    start = begin
    while start <= end:
        stop = min(end, start + timedelta(days=days - 1))
        yield start, stop
        start = stop + timedelta(days=1)


def _media_ids(refs: list[str], media_ids: Mapping[str, str], field: str) -> list[str]:
    """Turn local image references into uploaded media ids; a missing one refuses the action."""
    missing = [ref for ref in refs if not media_ids.get(ref)]
    if missing:
        raise ActionRefused(
            f"{len(missing)} image(s) not uploaded yet (first: {missing[0][:16]}); upload before sending",
            field=field,
        )
    return [media_ids[ref] for ref in refs]


class WeChatPayChannel:
    """One WeChat Pay merchant (or SP) account: complaints as neutral snapshots, and merchant actions.

    Actions go ``validate`` → (``upload_image`` for each of ``image_refs``) → ``perform``; the
    rules live in :mod:`.actions`.
    """

    name = "wechatpay"

    def __init__(self, client: WeChatPayClient, *, complainted_mchid: str | None = None) -> None:
        self.client = client
        self._complainted_mchid = complainted_mchid

    def _decrypt_phone(self, ciphertext: str) -> str:
        """Decrypt ``payer_phone`` with the merchant private key."""
        return decrypt_oaep(self.client.credentials.private_key, ciphertext)

    async def fetch(self, external_id: str, *, with_history: bool = True) -> ComplaintSnapshot:
        """Fetch one complaint (and its full history) by complaint id."""
        complaint = await self.client.get_complaint(external_id)
        history = await self.client.iter_history(external_id) if with_history else None
        return to_snapshot(complaint, history=history, decrypt_phone=self._decrypt_phone)

    async def list_window(self, begin: date, end: date) -> AsyncIterator[ComplaintSnapshot]:
        """Yield every complaint created in [begin, end] (history not fetched)."""
        seen: set[str] = set()
        for start, stop in split_window(begin, end):
            async for complaint in self.client.iter_complaints(
                begin_date=start, end_date=stop, complainted_mchid=self._complainted_mchid
            ):
                if complaint.complaint_id in seen:
                    continue
                seen.add(complaint.complaint_id)
                yield to_snapshot(complaint, history=None, decrypt_phone=self._decrypt_phone)

    async def fetch_history(self, external_id: str) -> list[HistoryEntry]:
        """Fetch the complete negotiation history of one complaint."""
        return [to_history_entry(entry) for entry in await self.client.iter_history(external_id)]

    async def aclose(self) -> None:
        """Release connections."""
        await self.client.aclose()

    # -- actions (ActionChannel) ------------------------------------------------------------------------

    def allowed_actions(self, facts: ComplaintFacts) -> set[ActionKind]:
        """Which actions the complaint's current upstream state allows."""
        return actions.allowed_actions(facts)

    def validate(self, kind: ActionKind, params: dict[str, Any], facts: ComplaintFacts) -> dict[str, Any]:
        """Status guard, then parameter rules; return normalised params or raise ``ActionRefused``."""
        return actions.validate(kind, params, facts, reply_max_chars=self.client.settings.reply_max_chars)

    def image_refs(self, kind: ActionKind, params: dict[str, Any]) -> list[str]:
        """Local image references in validated params that must be uploaded before ``perform``."""
        return actions.image_refs(kind, params)

    def check_image(self, data: bytes, filename: str) -> str:
        """Refuse what WeChat Pay would refuse (type by content, size); return the content type."""
        return actions.check_image(data, filename)

    async def upload_image(self, data: bytes, filename: str) -> str:
        """Check and upload evidence (named ``<sha256>.<ext>`` upstream); return the media id."""
        content_type = actions.check_image(data, filename)
        name = actions.upload_filename(hashlib.sha256(data).hexdigest(), content_type)
        return await self.client.upload_image(data, name)

    async def perform(self, request: ActionRequest) -> ActionOutcome:
        """Send one action for ``request.merchant_id`` (the complainted merchant).

        Transport errors after sending raise ``ChannelTransportError(sent=True)``; a 5xx answer raises
        ``UpstreamUnavailable``: both mean "maybe applied" — check :meth:`applied_in_history`.
        """
        kind, complaint_id, mchid = request.kind, request.external_id, request.merchant_id
        params = actions.validate_params(
            kind, request.params, reply_max_chars=self.client.settings.reply_max_chars
        )
        if kind is ActionKind.REPLY:
            await self.client.reply(
                complaint_id,
                complainted_mchid=mchid,
                content=params["content"],
                images=_media_ids(params["images"], request.media_ids, "images"),
                jump_url=params.get("jump_url"),
                jump_url_text=params.get("jump_url_text"),
                mini_program_jump_info=params.get("mini_program_jump_info"),
            )
            return ActionOutcome()
        if kind is ActionKind.IMMEDIATE_REPLY:
            message = to_wire(
                params["blocks"],
                request.media_ids,
                sender_identity=params["sender_identity"],
                custom_data=params.get("custom_data"),
            )
            log_id = await self.client.reply_immediate(
                complaint_id, complainted_mchid=mchid, message=message, idempotent_id=request.action_id
            )
            return ActionOutcome(upstream_ref=log_id, raw={"log_id": log_id} if log_id else {})
        if kind is ActionKind.COMPLETE:
            await self.client.complete(complaint_id, complainted_mchid=mchid)
            return ActionOutcome()
        if kind is ActionKind.REFUND_APPROVE:
            await self.client.update_refund_progress(
                complaint_id,
                action="APPROVE",
                launch_refund_day=params.get("launch_refund_day"),
                remark=params.get("remark"),
            )
            return ActionOutcome()
        await self.client.update_refund_progress(
            complaint_id,
            action="REJECT",
            reject_reason=params["reject_reason"],
            reject_media_list=_media_ids(params["reject_media"], request.media_ids, "reject_media"),
            remark=params.get("remark"),
        )
        return ActionOutcome()

    def applied_in_history(
        self, request: ActionRequest, history: list[HistoryEntry], *, known_refs: Collection[str] = ()
    ) -> bool:
        """Whether the upstream history shows this action already applied (for uncertain sends)."""
        return actions.applied_in_history(request, history, known_refs=known_refs)

    async def download_image(self, url: str) -> tuple[bytes, str]:
        """Fetch complaint evidence by its ``media_url`` (signed GET, verbatim): (bytes, content type)."""
        return await self.client.download_image(url)
