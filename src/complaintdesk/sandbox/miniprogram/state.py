"""The stateful model of the Mini Program 交易投诉 platform: complaints, their status machine and history.

Status machine (spec A.4 labels; the transitions themselves are ASSUMPTIONS, see the package docstring)::

    user files ─▶ 201 (48 h) ─respond agree/refuse─▶ 203/204 ─user accepts─▶ 205
                   │ deadline ─▶ 202 ─┘ (48 h for the user; deadline ─▶ 205, item 108)
    201-204 ─user asks platform─▶ 101 ─evidence─▶ 106 / 108 (48 h) ─supply proof─▶ 107 / 109
    106/108 deadline ─▶ 107 / 109 (items 112 / 113)
    ruling: not liable ─▶ 112 · liable ─▶ 206 (48 h, item 31 blameResult 0) ─refund proof─▶ 207 ─▶ 116 / 209
            liable + return ─▶ 308 (item 32 blameResult 1) ─user ships─▶ 309 + returnBill
               ─refund proof acceptReturn=1─▶ 207 · acceptReturn=0─▶ 311 · platform refunds ─▶ 312 ─▶ 115
    206 deadline ─▶ 208 (item 107) · any open ─user withdraws─▶ 102
    appeal window: liable rulings open appealState 401 for 72 h ─appeal─▶ 403 ─▶ 117 / 118; late ─▶ 402

Every change appends an ``item`` and, with ``push``, queues a ``complaint_callback`` (option_type 1 for
the new complaint, 2 afterwards). Deadlines pass at their own instant (items and pushes carry that time).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from complaintdesk.sandbox.miniprogram import codes
from complaintdesk.sandbox.miniprogram.codes import AppealState, ItemType, Status
from complaintdesk.sandbox.miniprogram.core import DAY_LIMITS, DEFAULT_LIMITS, UnknownApp, UnknownComplaint
from complaintdesk.sandbox.miniprogram.flow import APPEAL_WINDOW, DEADLINES, FlowCore, InvalidTransition
from complaintdesk.sandbox.miniprogram.model import Complaint, Item, ReturnBill
from complaintdesk.sandbox.miniprogram.push import OPTION_NEW, OPTION_UPDATE

__all__ = [
    "DAY_LIMITS",
    "DEFAULT_LIMITS",
    "InvalidTransition",
    "MiniProgramState",
    "UnknownApp",
    "UnknownComplaint",
]

PLATFORM_STATUSES = frozenset({101, 103, 104, 105, 107, 109, 305, 307, 310})
_NICKS = ["小王", "Lily", "追风少年", "momo", "陈先生", "阿杰", "Sunny", "李女士"]
_DIGITS = "0123456789"
_HEAD = "https://thirdwx.qlogo.cn/mmopen/vi_32/"
_OPENID = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


class MiniProgramState(FlowCore):
    """Everything the platform knows; driven by tests, the API app, scenarios and the notifier."""

    # ------------------------------------------------------------- creation
    def create_complaint(
        self,
        appid: str,
        *,
        type: int = 641,  # the platform's field name
        content: str = "收到的商品与描述严重不符，联系客服没有回复，要求退款。",
        images: int = 0,
        phone_number: str | None = None,
        open_id: str | None = None,
        nick_name: str | None = None,
        product_name: str = "夏季纯棉T恤 白色 L",
        total_cost: int = 9900,
        pay_time: datetime | None = None,
        at: datetime | None = None,
        push: bool = True,
    ) -> str:
        """A user files a complaint (status 201, item 1); returns its numeric id as a string (> 2**53)."""
        app = self.app(appid)
        when = at or self.now()
        rng = self.rng
        cid = str(rng.randint(2 * 10**18, 9 * 10**18))
        while cid in self._complaints:
            cid = str(rng.randint(2 * 10**18, 9 * 10**18))
        day = when.strftime("%Y%m%d")
        c = Complaint(
            complaint_order_id=cid,
            appid=app.appid,
            open_id=open_id or "o" + self._chars(_OPENID, 27),
            create_time=when,
            phone_number=phone_number or "1" + rng.choice("3578") + self._chars(_DIGITS, 9),
            type=type,
            content=content,
            media=[self.media.new_image() for _ in range(images)],
            order_id="4200" + self._chars(_DIGITS, 6) + day + self._chars(_DIGITS, 10),
            out_trade_no="MP" + day + self._chars(_DIGITS, 10),
            product_name=product_name,
            pay_time=pay_time or when - timedelta(hours=rng.randint(2, 240)),
            total_cost=total_cost,
            nick_name=nick_name or rng.choice(_NICKS),
            head_img_url=_HEAD + self._chars("ABCDEFabcdef0123456789", 40) + "/132",
        )
        self._complaints[cid] = c
        c.items.append(self._user_item(c, ItemType.USER_FILED, when, content, list(c.media)))
        c.status = Status.PENDING_MERCHANT
        c.expire_time = when + timedelta(seconds=DEADLINES[201])
        if push:
            self.push_complaint(c, OPTION_NEW, when)
        return cid

    # ---------------------------------------------------------------- users
    def user_message(
        self, cid: str | int, text: str, images: int = 0, *, at: datetime | None = None, push: bool = True
    ) -> None:
        """The user adds a message (item 2; no status change)."""
        c = self._open(cid, at, push)
        media = [self.media.new_image() for _ in range(images)]
        self._record(c, self._user_item(c, ItemType.USER_MESSAGE, at, text, media), at, push)

    def user_evidence(
        self, cid: str | int, text: str, images: int = 1, *, at: datetime | None = None, push: bool = True
    ) -> None:
        """The user supplies evidence (item 7)."""
        c = self._open(cid, at, push)
        media = [self.media.new_image() for _ in range(images)]
        self._record(c, self._user_item(c, ItemType.USER_EVIDENCE, at, text, media), at, push)

    def user_accepts(self, cid: str | int, *, at: datetime | None = None, push: bool = True) -> None:
        """The user accepts the merchant's answer: 202/203/204 → 205 (item 104)."""
        c = self._require(cid, codes.WAIT_USER_STATUSES, at, push)
        self._move(
            c,
            Status.CLOSED_RESOLVED,
            self._user_item(c, ItemType.USER_ACCEPTED, at, "用户确认问题已解决"),
            at,
            push,
        )

    def user_asks_platform(
        self,
        cid: str | int,
        reason: str = "商家处理结果不满意",
        *,
        at: datetime | None = None,
        push: bool = True,
    ) -> None:
        """The user asks the platform to step in: 201-204 → 101 (item 11)."""
        c = self._require(cid, {201, *codes.WAIT_USER_STATUSES}, at, push)
        self._move(
            c,
            Status.PLATFORM_HANDLING,
            self._user_item(c, ItemType.USER_ASKED_PLATFORM, at, reason),
            at,
            push,
        )

    def user_withdraws(self, cid: str | int, *, at: datetime | None = None, push: bool = True) -> None:
        """The user withdraws the complaint: any open status → 102 (item 12)."""
        c = self._open(cid, at, push)
        self._move(
            c, Status.USER_CANCELLED, self._user_item(c, ItemType.USER_WITHDREW, at, "用户撤销投诉"), at, push
        )

    def user_ships_return(
        self,
        cid: str | int,
        *,
        waybill_id: str | None = None,
        delivery_name: str = "顺丰速运",
        at: datetime | None = None,
        push: bool = True,
    ) -> int:
        """The user sends the goods back: 308 → 309 with a ``returnBill``; returns its ``returnId``."""
        c = self._require(cid, {308}, at, push)
        return_id = self.rng.randint(10**8, 10**9 - 1)
        waybill = waybill_id or "SF" + "".join(self.rng.choice(_DIGITS) for _ in range(13))
        c.return_bill = ReturnBill(return_id, waybill, delivery_name, codes.ReturnStatus.PICKED_UP)
        text = f"用户已寄回商品，{delivery_name} {waybill}"
        self._move(c, Status.RETURN_SHIPPED, self._user_item(c, ItemType.USER_MESSAGE, at, text), at, push)
        return return_id

    def return_progress(
        self, cid: str | int, order_status: int, *, at: datetime | None = None, push: bool = True
    ) -> None:
        """The return waybill moves on (``returnBill.orderStatus``; no item, a push)."""
        c = self.get(cid)
        if c.return_bill is None:
            raise InvalidTransition("the complaint has no return waybill")
        self.expire_due(c, at or self.now(), push)
        c.return_bill.order_status = order_status
        if push:
            self.push_complaint(c, OPTION_UPDATE, at)

    # ------------------------------------------------------------- platform
    def platform_requests_evidence(
        self, cid: str | int, *, both: bool = False, at: datetime | None = None, push: bool = True
    ) -> None:
        """Customer service asks the merchant (106, item 16) or both parties (108, item 18) for evidence."""
        c = self._require(cid, PLATFORM_STATUSES, at, push)
        if both:
            item = Item(ItemType.WAIT_BOTH_EVIDENCE, at or self.now(), "请双方补充凭证")
            self._move(c, Status.WAIT_BOTH_EVIDENCE, item, at, push)
        else:
            item = Item(ItemType.WAIT_MERCHANT_EVIDENCE, at or self.now(), "请商家补充凭证")
            self._move(c, Status.WAIT_MERCHANT_EVIDENCE, item, at, push)

    def platform_rules(
        self,
        cid: str | int,
        *,
        liable: bool,
        return_goods: bool = False,
        platform_refund: bool = False,
        appeal: bool = True,
        at: datetime | None = None,
        push: bool = True,
    ) -> None:
        """The platform's ruling; liable rulings open a 72-hour appeal window unless ``appeal`` is false."""
        c = self._require(cid, PLATFORM_STATUSES | {106, 108, 208, 311}, at, push)
        when = at or self.now()
        if not liable:
            self._move(
                c,
                Status.CLOSED_RULED,
                Item(ItemType.NOT_MERCHANT_FAULT, when, "经平台核实，非商家责任，投诉关闭"),
                at,
                push,
            )
            return
        window = appeal and c.appeal_state == AppealState.NONE
        mark = AppealState.WAITING if window else AppealState.NONE
        if window:
            c.appeal_state = AppealState.WAITING
            c.appeal_deadline = when + timedelta(seconds=APPEAL_WINDOW)
        if platform_refund:
            item = Item(ItemType.AUTO_COMPENSATION, when, "商家责任，平台先行退款", appeal_item_type=mark)
            self._move(c, Status.PLATFORM_REFUNDING, item, at, push)
        elif return_goods:
            item = Item(
                ItemType.MERCHANT_LIABLE_RETURN,
                when,
                "商家责任，等待用户退货",
                blame_result=1,
                appeal_item_type=mark,
            )
            self._move(c, Status.WAIT_USER_RETURN, item, at, push)
        else:
            item = Item(
                ItemType.MERCHANT_LIABLE,
                when,
                "商家责任，请上传处理凭证",
                blame_result=0,
                appeal_item_type=mark,
            )
            self._move(c, Status.WAIT_PROCESSING_PROOF, item, at, push)

    def platform_reviews_proof(
        self, cid: str | int, *, ok: bool = True, at: datetime | None = None, push: bool = True
    ) -> None:
        """The platform checks the processing proof: 207 → 116 (item 36) or 209 (item 37)."""
        c = self._require(cid, {207}, at, push)
        when = at or self.now()
        if ok:
            self._move(
                c, Status.CLOSED_PROOF_VERIFIED, Item(ItemType.PROOF_VERIFIED, when, "凭证审核通过"), at, push
            )
        else:
            self._move(c, Status.CLOSED, Item(ItemType.PROOF_ABNORMAL, when, "凭证异常，投诉关闭"), at, push)

    def platform_refund_done(self, cid: str | int, *, at: datetime | None = None, push: bool = True) -> None:
        """The platform's refund went through: 312 → 115."""
        c = self._require(cid, {312}, at, push)
        self._move(
            c,
            Status.CLOSED_REFUNDED,
            Item(ItemType.PLATFORM_HANDLING, at or self.now(), "平台已退款"),
            at,
            push,
        )

    def appeal_decided(
        self, cid: str | int, *, success: bool, at: datetime | None = None, push: bool = True
    ) -> None:
        """The platform decides the merchant's appeal: appealState 403 → 117 / 118 (status unchanged)."""
        c = self.get(cid)
        when = at or self.now()
        self.expire_due(c, when, push)
        if c.appeal_state != AppealState.IN_PROGRESS:
            raise InvalidTransition(f"appealState {c.appeal_state} is not 403")
        c.appeal_state = AppealState.SUCCEEDED if success else AppealState.FAILED
        text = "申诉成功" if success else "申诉失败"
        self._record(
            c, Item(ItemType.PLATFORM_HANDLING, when, text, appeal_item_type=c.appeal_state), at, push
        )

    def _chars(self, alphabet: str, count: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(count))
