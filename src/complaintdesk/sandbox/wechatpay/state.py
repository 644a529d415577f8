"""The stateful model behind the WeChat Pay simulator: merchants, complaints, history, notifications."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from complaintdesk.sandbox.wechatpay import effects
from complaintdesk.sandbox.wechatpay.core import DEFAULT_LIMITS, SignMode, StateCore, UnknownComplaint
from complaintdesk.sandbox.wechatpay.effects import InvalidState
from complaintdesk.sandbox.wechatpay.model import SHANGHAI, Complaint, ComplaintState, digits, new_openid

__all__ = ["DEFAULT_LIMITS", "InvalidState", "SignMode", "SimulatorState", "UnknownComplaint"]

_PROBLEM_DESCRIPTIONS = {"REFUND": "申请退款", "SERVICE_NOT_WORK": "服务权益未生效", "OTHERS": "其他问题"}
USER, MERCHANT, SUPPORT, SYSTEM = "投诉人", "商户", "微信支付客服", "系统"


class SimulatorState(StateCore):
    """Everything WeChat Pay knows; pure Python, driven by tests, the API app and the notifier."""

    # ----------------------------------------------------------- complaints
    def create_complaint(
        self,
        complainted_mchid: str,
        *,
        detail: str = "商品一直没有发货，联系商家也没有回复，要求退款。",
        problem_type: str = "REFUND",
        amount_fen: int = 9900,
        apply_refund_amount_fen: int | None = None,
        payer_phone: str | None = "13800138000",
        images: int = 0,
        complaint_time: datetime | None = None,
        need_immediate_service: bool = False,
        notify: bool = True,
        problem_description: str | None = None,
        user_tags: Sequence[str] = (),
    ) -> str:
        """A user files a complaint; returns its 27-digit id."""
        if not self.merchants.knows(complainted_mchid):
            raise ValueError(
                f"merchant {complainted_mchid} is not registered (directly or as a sub-merchant)"
            )
        if not 1 <= len(detail) <= 300:
            raise ValueError("complaint detail must be 1..300 characters")
        if problem_type != "REFUND" and apply_refund_amount_fen is not None:
            raise ValueError("apply_refund_amount only exists for REFUND complaints")
        refund = apply_refund_amount_fen if apply_refund_amount_fen is not None else amount_fen
        if problem_type == "REFUND" and not 0 < refund <= amount_fen:
            raise ValueError("apply_refund_amount must be within the order amount")
        when = complaint_time or self.now()
        day = when.astimezone(SHANGHAI).strftime("%Y%m%d")
        complaint_id = self._unique(
            lambda: f"2000{day}{next(self._sequence) % 100000:05d}{digits(self.rng, 10)}"
        )
        complaint = Complaint(
            complaint_id=complaint_id,
            complaint_time=when,
            complaint_detail=detail,
            complainted_mchid=complainted_mchid,
            problem_type=problem_type,
            problem_description=problem_description or _PROBLEM_DESCRIPTIONS.get(problem_type, "其他问题"),
            amount_fen=amount_fen,
            transaction_id=f"4200{digits(self.rng, 6)}{day}{digits(self.rng, 10)}",
            out_trade_no=f"T{day}{digits(self.rng, 10)}",
            payer_openid=new_openid(self.rng),
            payer_phone=payer_phone,
            apply_refund_amount_fen=refund if problem_type == "REFUND" else None,
            need_immediate_service=need_immediate_service,
            user_tags=list(user_tags),
            media_ids=self._new_media(complaint_id, images),
        )
        self._complaints[complaint_id] = complaint
        media = complaint.media_ids
        self.record(complaint, USER, "USER_CREATE_COMPLAINT", detail, when, "USER_COMPLAINT_IMAGE", media)
        self.enqueue(complaint, "CREATE_COMPLAINT", notify)
        return complaint_id

    def user_message(
        self,
        complaint_id: str,
        text: str,
        images: int = 0,
        *,
        at: datetime | None = None,
        notify: bool = True,
    ) -> None:
        """The user leaves a message (notification USER_RESPONSE)."""
        c = self.get(complaint_id)
        c.incoming_user_response = True
        self.record(
            c, USER, "USER_RESPONSE", text, at, "OPERATION_IMAGE", self._new_media(complaint_id, images)
        )
        self.enqueue(c, "USER_RESPONSE", notify)

    def continue_complaint(
        self, complaint_id: str, text: str, *, at: datetime | None = None, notify: bool = True
    ) -> None:
        """The user complains again (notification CONTINUE_COMPLAINT)."""
        c = self.get(complaint_id)
        c.user_complaint_times += 1
        c.incoming_user_response = True
        if self.continue_reopens:
            c.state = ComplaintState.PENDING
        self.record(c, USER, "USER_CONTINUE_COMPLAINT", text, at)
        self.enqueue(c, "CONTINUE_COMPLAINT", notify)

    def platform_message(
        self, complaint_id: str, text: str, *, at: datetime | None = None, notify: bool = True
    ) -> None:
        """WeChat Pay customer service writes (notification RESPONSE_BY_PLATFORM)."""
        c = self.get(complaint_id)
        self.record(c, SUPPORT, "PLATFORM_RESPONSE", text, at)
        self.enqueue(c, "RESPONSE_BY_PLATFORM", notify)

    def apply_platform_service(
        self,
        complaint_id: str,
        reason: str,
        *,
        description: str | None = None,
        at: datetime | None = None,
        notify: bool = True,
    ) -> None:
        """The user asks the platform to step in (平台协助)."""
        c = self.get(complaint_id)
        c.in_platform_service = True
        extra = {"user_appy_platform_service_reason": reason}
        if description is not None:
            extra["user_appy_platform_service_reason_description"] = description
        self.record(c, USER, "USER_APPLY_PLATFORM_SERVICE", reason, at, extra=extra)
        self.enqueue(c, "USER_APPLY_PLATFORM_SERVICE", notify)

    def cancel_platform_service(
        self, complaint_id: str, *, at: datetime | None = None, notify: bool = True
    ) -> None:
        """The user withdraws the platform-assistance request."""
        c = self.get(complaint_id)
        c.in_platform_service = False
        self.record(c, USER, "USER_CANCEL_PLATFORM_SERVICE", None, at)
        self.enqueue(c, "USER_CANCEL_PLATFORM_SERVICE", notify)

    def finish_platform_service(
        self, complaint_id: str, *, at: datetime | None = None, notify: bool = True
    ) -> None:
        """Customer service ends platform assistance."""
        c = self.get(complaint_id)
        c.in_platform_service = False
        self.record(c, SUPPORT, "PLATFORM_SERVICE_FINISHED", "客服已结束平台协助", at)
        self.enqueue(c, "PLATFORM_SERVICE_FINISHED", notify)

    def seller_refund(self, complaint_id: str, *, at: datetime | None = None, notify: bool = True) -> None:
        """The order was fully refunded (notification SELLER_REFUND)."""
        c = self.get(complaint_id)
        c.full_refunded = True
        self.record(c, SYSTEM, "COMPLAINT_FULL_REFUNDED_SYSTEM_MESSAGE", "订单已全额退款", at)
        self.enqueue(c, "SELLER_REFUND", notify)

    # ----------------------------------------------------- merchant actions (effects.py)
    def merchant_reply(
        self, complaint_id: str, text: str, *, at: datetime | None = None, uploads: Sequence[str] = ()
    ) -> str:
        """Effect of the reply API (PENDING -> PROCESSING, no notification); returns the entry's log_id."""
        return effects.reply(self, complaint_id, text, at=at, uploads=uploads)

    def complete(self, complaint_id: str, *, at: datetime | None = None) -> str:
        """Effect of the complete API: -> PROCESSED; no notification."""
        return effects.complete(self, complaint_id, at=at)

    def approve_refund(self, complaint_id: str, *, launch_refund_day: int | None = None) -> str:
        """Effect of update-refund-progress APPROVE (the refund arrives per ``auto_refund``)."""
        return effects.approve_refund(self, complaint_id, launch_refund_day=launch_refund_day)

    def reject_refund(self, complaint_id: str, reason: str, *, uploads: Sequence[str] = ()) -> str:
        """Effect of update-refund-progress REJECT: -> PROCESSED."""
        return effects.reject_refund(self, complaint_id, reason, uploads=uploads)

    def refund_arrives(self, complaint_id: str, *, at: datetime | None = None) -> None:
        """The approved refund arrived: refunded, PROCESSED, ``REFUND_SUCCESS`` notification."""
        effects.refund_arrives(self, complaint_id, at=at)

    def merchant_actions(self, complaint_id: str, *, api_only: bool = False) -> list[dict[str, Any]]:
        """History documents written by the merchant, oldest first."""
        return effects.merchant_actions(self, complaint_id, api_only=api_only)
