"""Status-machine plumbing of the Mini Program simulator: deadlines, merchant effects, history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from complaintdesk.sandbox.miniprogram import codes
from complaintdesk.sandbox.miniprogram.codes import AppealState, ItemType, Status
from complaintdesk.sandbox.miniprogram.core import StateCore
from complaintdesk.sandbox.miniprogram.model import Complaint, Item
from complaintdesk.sandbox.miniprogram.push import OPTION_UPDATE

HOUR = 3600
#: Seconds a status waits before its deadline passes (201/206: 48 h official; the rest ASSUMPTION).
DEADLINES: dict[int, int] = {201: 48 * HOUR, 206: 48 * HOUR, 106: 48 * HOUR, 108: 48 * HOUR}
DEADLINES.update(dict.fromkeys(codes.WAIT_USER_STATUSES, 48 * HOUR))
APPEAL_WINDOW = 72 * HOUR  # community answer by platform staff


class InvalidTransition(ValueError):
    """The event cannot happen in the complaint's current status."""


class FlowCore(StateCore):
    """Deadlines, the effects of the merchant's four write APIs, and the helpers every event uses."""

    # ------------------------------------------------------------ deadlines
    def run_scheduled(self) -> int:
        """Let every deadline up to now pass (when ``auto_expire``); returns how many passed."""
        if not self.auto_expire:
            return 0
        now = self.now()
        return sum(self.expire_due(c, now) for c in list(self._complaints.values()))

    def expire_due(self, c: Complaint, until: datetime, push: bool = True) -> int:
        """Let the deadlines of ``c`` up to ``until`` pass, each at its own instant."""
        passed = 0
        while True:
            deadline = c.expire_time if c.expire_time is not None and c.expire_time <= until else None
            appeal = (
                c.appeal_deadline if c.appeal_deadline is not None and c.appeal_deadline <= until else None
            )
            if deadline is None and appeal is None:
                return passed
            if appeal is not None and (deadline is None or appeal <= deadline):
                c.appeal_deadline = None
                c.appeal_state = AppealState.EXPIRED
                self._record(
                    c,
                    Item(ItemType.PLATFORM_HANDLING, appeal, "申诉期已过", appeal_item_type=402),
                    appeal,
                    push,
                )
            elif deadline is not None:
                self._status_deadline(c, deadline, push)
            passed += 1

    def _status_deadline(self, c: Complaint, when: datetime, push: bool) -> None:
        status = c.status
        if status == Status.PENDING_MERCHANT:
            item = Item(ItemType.MERCHANT_NO_RESPONSE, when, "商家超时未回应")
            self._move(c, Status.MERCHANT_TIMEOUT_WAIT_USER, item, when, push)
        elif status in codes.WAIT_USER_STATUSES:
            self._move(
                c,
                Status.CLOSED_RESOLVED,
                Item(ItemType.USER_NO_CONFIRM, when, "用户超时未确认，投诉完结"),
                when,
                push,
            )
        elif status == Status.WAIT_MERCHANT_EVIDENCE:
            item = Item(ItemType.MERCHANT_EVIDENCE_TIMEOUT, when, "商家举证超时")
            self._move(c, Status.PLATFORM_REVIEWING_EVIDENCE, item, when, push)
        elif status == Status.WAIT_BOTH_EVIDENCE:
            item = Item(ItemType.BOTH_EVIDENCE_TIMEOUT, when, "双方举证超时")
            self._move(c, Status.PLATFORM_REVIEWING_BOTH, item, when, push)
        elif status == Status.WAIT_PROCESSING_PROOF:
            self._move(
                c,
                Status.PROOF_TIMEOUT,
                Item(ItemType.MERCHANT_NO_PROOF, when, "商家超时未上传凭证"),
                when,
                push,
            )
        else:
            c.expire_time = None

    # ------------------------------------------------- merchant (API) effects
    def merchant_respond(
        self,
        cid: str | int,
        bussi_handle: int,
        content: str,
        media: Sequence[str] = (),
        *,
        at: datetime | None = None,
        via_api: bool = False,
        push: bool | None = None,
    ) -> None:
        """Effect of ``bussiRespondComplaint``: 201 → 203 (agree, 1) / 204 (refuse, 2), item 109."""
        c = self._require(cid, {201}, at, push is not False)
        target = Status.MERCHANT_AGREED_WAIT_USER if bussi_handle == 1 else Status.MERCHANT_REFUSED_WAIT_USER
        extra = {"bussi_handle": bussi_handle, "via_api": via_api}
        self._merchant(c, "respond", target, ItemType.MERCHANT_RESPONDED, content, media, at, push, **extra)

    def merchant_supply_proof(
        self,
        cid: str | int,
        content: str,
        media: Sequence[str] = (),
        *,
        at: datetime | None = None,
        via_api: bool = False,
        push: bool | None = None,
    ) -> None:
        """Effect of ``bussiSupplyProof``: 106 → 107, 108 → 109, item 8."""
        c = self._require(cid, {106, 108}, at, push is not False)
        target = Status.PLATFORM_REVIEWING_EVIDENCE if c.status == 106 else Status.PLATFORM_REVIEWING_BOTH
        self._merchant(
            c, "supply_proof", target, ItemType.MERCHANT_EVIDENCE, content, media, at, push, via_api=via_api
        )

    def merchant_supply_refund(
        self,
        cid: str | int,
        content: str,
        media: Sequence[str] = (),
        *,
        accept_return: int | None = None,
        return_id: int | None = None,
        at: datetime | None = None,
        via_api: bool = False,
        push: bool | None = None,
    ) -> None:
        """Effect of ``bussiSupplyRefund``: 206 → 207; 309 → 207 (goods received) or 311 (not received)."""
        c = self._require(cid, {206, 309}, at, push is not False)
        target = (
            Status.RECEIPT_EXCEPTION
            if c.status == 309 and accept_return == 0
            else Status.PLATFORM_VERIFYING_PROOF
        )
        extra: dict[str, Any] = {"via_api": via_api}
        if c.status == 309:
            extra.update(accept_return=accept_return, return_id=return_id)
        self._merchant(
            c, "supply_refund", target, ItemType.MERCHANT_SUBMITTED_PROOF, content, media, at, push, **extra
        )

    def merchant_appeal(
        self,
        cid: str | int,
        content: str,
        media: Sequence[str] = (),
        *,
        at: datetime | None = None,
        via_api: bool = False,
        push: bool | None = None,
    ) -> None:
        """Effect of ``busiAppeal``: appealState 401 → 403 (item 8 with appealItemType 403)."""
        c = self.get(cid)
        when = at or self.now()
        self.expire_due(c, when, push is not False)
        if c.appeal_state != AppealState.WAITING:
            raise InvalidTransition(f"appealState {c.appeal_state} is not 401")
        c.appeal_state = AppealState.IN_PROGRESS
        c.appeal_deadline = None
        item = Item(ItemType.MERCHANT_EVIDENCE, when, content, self._images_of(media))
        item.appeal_item_type = AppealState.IN_PROGRESS
        self._log(c, "appeal", when, content, media, via_api=via_api)
        self._record(c, item, when, self.push_on_merchant_actions if push is None else push)

    # -------------------------------------------------------------- helpers
    def _merchant(
        self,
        c: Complaint,
        action: str,
        target: int,
        item_type: int,
        content: str,
        media: Sequence[str],
        at: datetime | None,
        push: bool | None,
        **extra: Any,
    ) -> None:
        when = at or self.now()
        self._log(c, action, when, content, media, **extra)
        item = Item(item_type, when, content, self._images_of(media))
        self._move(c, target, item, when, self.push_on_merchant_actions if push is None else push)

    def _log(
        self, c: Complaint, action: str, when: datetime, content: str, media: Sequence[str], **extra: Any
    ) -> None:
        entry: dict[str, Any] = {"action": action, "time": int(when.timestamp()), "content": content}
        entry["media"] = list(media)
        entry.update(extra)
        c.merchant_log.append(entry)

    def _images_of(self, media_ids: Sequence[str]) -> list[str]:
        """Image keys showing what the merchant uploaded (a drawn image for ids the simulator never saw)."""
        keys = []
        for media_id in media_ids:
            upload = self.media.upload(media_id)
            keys.append(self.media.image_of_upload(upload) if upload else self.media.new_image())
        return keys

    def _user_item(
        self, c: Complaint, item_type: int, at: datetime | None, text: str, media: list[str] | None = None
    ) -> Item:
        return Item(item_type, at or self.now(), text, media or [], c.phone_number, c.nick_name)

    def _open(self, cid: str | int, at: datetime | None, push: bool = True) -> Complaint:
        c = self.get(cid)
        self.expire_due(c, at or self.now(), push)
        if c.status in codes.CLOSED_STATUSES:
            raise InvalidTransition(f"complaint {c.complaint_order_id} is closed ({c.status})")
        return c

    def _require(
        self, cid: str | int, allowed: set[int] | frozenset[int], at: datetime | None, push: bool = True
    ) -> Complaint:
        c = self.get(cid)
        self.expire_due(c, at or self.now(), push)
        if c.status not in allowed:
            raise InvalidTransition(f"status {c.status} does not allow this event")
        return c

    def _move(self, c: Complaint, status: int, item: Item, at: datetime | None, push: bool) -> None:
        when = at or self.now()
        c.status = status
        seconds = DEADLINES.get(status)
        c.expire_time = when + timedelta(seconds=seconds) if seconds is not None else None
        self._record(c, item, when, push)

    def _record(self, c: Complaint, item: Item, at: datetime | None, push: bool) -> None:
        c.items.append(item)
        if push:
            self.push_complaint(c, OPTION_UPDATE, at)
