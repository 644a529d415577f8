"""The Huishouqian complaint channel as the core sees it (``ChannelAdapter`` and ``ActionChannel``).

Merchant accounts query with ``merchantNo``; agent (代理商, ``service_provider``) accounts query with
``agentMerchantNo`` and see every sub-merchant: each snapshot's ``merchant_id`` is the row's
``merchantNo`` so the core can route it to a sub-account. Writes carry only the complaint id (the
envelope ``merchantNo`` is the account's own number).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
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
from complaintdesk.channels.huishouqian import actions
from complaintdesk.channels.huishouqian.client import HuishouqianClient
from complaintdesk.channels.huishouqian.mapping import parse_media_ref, to_history_entry, to_snapshot
from complaintdesk.errors import ActionRefused

__all__ = ["HuishouqianChannel", "split_window"]


def split_window(begin: date, end: date, *, days: int) -> Iterator[tuple[date, date]]:
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


def _file_ids(refs: list[str], media_ids: Mapping[str, str]) -> list[str]:
    """Turn local image references into uploaded ``fileId`` values; a missing one refuses the action."""
    missing = [ref for ref in refs if not media_ids.get(ref)]
    if missing:
        raise ActionRefused(
            f"{len(missing)} image(s) not uploaded yet (first: {missing[0][:16]}); upload before sending",
            field="images",
        )
    return [media_ids[ref] for ref in refs]


class HuishouqianChannel:
    """One Huishouqian merchant or agent account: complaints as neutral snapshots, and merchant actions."""

    name = "huishouqian"

    def __init__(
        self, client: HuishouqianClient, *, agent: bool = False, act_type: int | None = None
    ) -> None:
        self.client = client
        self.agent = agent
        self.act_type = act_type

    @property
    def _scope(self) -> dict[str, str]:
        number = self.client.credentials.merchant_no
        return {"agent_merchant_no": number} if self.agent else {"merchant_no": number}

    def _snapshot(self, row: Any, history: list[HistoryEntry] | None) -> ComplaintSnapshot:
        return to_snapshot(
            row,
            history=history,
            default_merchant_no=self.client.credentials.merchant_no,
            media_type=self.client.settings.history_media_type,
        )

    async def fetch(self, external_id: str, *, with_history: bool = True) -> ComplaintSnapshot:
        """Fetch one complaint (COMPLAINT_QUERY by ``complaintId``) and its full history."""
        row = await self.client.get_complaint(external_id, **self._scope)
        history = await self.fetch_history(row.complaint_id) if with_history else None
        return self._snapshot(row, history)

    async def list_window(self, begin: date, end: date) -> AsyncIterator[ComplaintSnapshot]:
        """Yield every complaint created in [begin, end] (history not fetched), split into legal windows."""
        seen: set[str] = set()
        for start, stop in split_window(begin, end, days=self.client.settings.query_window_days):
            async for row in self.client.iter_complaints(begin_date=start, end_date=stop, **self._scope):
                if row.complaint_id not in seen:
                    seen.add(row.complaint_id)
                    yield self._snapshot(row, None)

    async def fetch_history(self, external_id: str) -> list[HistoryEntry]:
        """Fetch the complete negotiation history of one complaint."""
        media_type = self.client.settings.history_media_type
        return [
            to_history_entry(row, complaint_id=external_id, media_type=media_type)
            for row in await self.client.iter_history(external_id)
        ]

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
        """Refuse what Huishouqian would refuse (type by content, size); return the content type."""
        return actions.check_image(data, filename)

    async def upload_image(self, data: bytes, filename: str) -> str:
        """Check and upload evidence (COMPLAINT_FILE_UPLOAD); return its ``fileId`` as text."""
        actions.check_image(data, filename)
        return await self.client.upload_image(data)

    async def perform(self, request: ActionRequest) -> ActionOutcome:
        """Send a reply or completion (an error that may hide an applied write is marked uncertain)."""
        params = actions.validate_params(
            request.kind, request.params, reply_max_chars=self.client.settings.reply_max_chars
        )
        images = _file_ids(params["images"], request.media_ids)
        if request.kind is ActionKind.REPLY:
            result = await self.client.commit_response(
                request.external_id, content=params["content"], images=images, act_type=self.act_type
            )
        else:
            result = await self.client.commit_complete(
                request.external_id, content=params["content"], images=images
            )
        return ActionOutcome(raw={"respCode": result.resp_code, "respDesc": result.resp_desc})

    def applied_in_history(self, request: ActionRequest, history: list[HistoryEntry]) -> bool:
        """Whether the upstream history shows this action already applied (for uncertain sends)."""
        return actions.applied_in_history(request, history)

    async def download_image(self, url: str) -> tuple[bytes, str]:
        """Fetch evidence by its ``hsq:<complaintId>:<mediaType>:<mediaUrl>`` reference: (bytes, type)."""
        complaint_id, media_type, media_url = parse_media_ref(url)
        data, suffix = await self.client.download_media(
            complaint_id, media_url=media_url, media_type=media_type
        )
        return data, actions.content_type_of(data, suffix)
