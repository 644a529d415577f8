"""Every code a channel or the core can produce has a label in zh-CN and in English (issue #12 item 6).

A code added later without a label fails here, and the message names it and says where to add the label.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from tests.web.crawler import code_vocabulary, findings, read

from complaintdesk import errors
from complaintdesk.channels.base import ActionKind, UnifiedStatus
from complaintdesk.channels.huishouqian import errors as hsq_errors
from complaintdesk.channels.huishouqian import mapping as hsq_mapping
from complaintdesk.channels.miniprogram import enums as mp_enums
from complaintdesk.channels.miniprogram import errors as mp_errors
from complaintdesk.channels.wechatpay import errors as wx_errors
from complaintdesk.channels.wechatpay import mapping as wx_mapping
from complaintdesk.channels.wechatpay import webhook as wx_webhook
from complaintdesk.core.alerts.events import EventKind
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.outbox.models import ActionStatus
from complaintdesk.core.sla.rules import DeadlineKind, SlaState
from complaintdesk.core.users.permissions import Role
from complaintdesk.web import console
from complaintdesk.web.console import code_tables, core_labels, error_text, i18n, labels

LOCALE = Path(console.__file__).parent / "locale"
_CJK = re.compile(r"[\u3400-\u9fff]")


def _catalog(folder: str) -> dict[str, str]:
    with (LOCALE / folder / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


ZH, EN = _catalog("zh_CN"), _catalog("en")


@pytest.fixture(autouse=True)
def _language() -> Iterator[None]:
    yield
    i18n.set_language("zh-CN")


def test_every_upstream_code_has_a_chinese_and_an_english_label() -> None:
    missing = [
        f"{channel}/{kind}/{code}: zh={label.zh!r} en={label.en!r}"
        for (channel, kind), table in code_tables.TABLES.items()
        for code, label in table.items()
        if not _CJK.search(label.zh) or not label.en or _CJK.search(label.en)
    ]
    assert missing == [], "label these codes in web/console/code_tables.py:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    ("channel", "kind", "codes"),
    [
        ("wechatpay", "status", wx_mapping.STATUS_LABELS),
        ("wechatpay", "problem", wx_mapping.PROBLEM_TYPE_LABELS),
        ("wechatpay", "history", wx_mapping.OPERATE_TYPE_LABELS),
        ("wechatpay", "notification", {*wx_mapping.ACTION_TYPE_LABELS, *wx_webhook.KNOWN_EVENT_TYPES}),
        ("wechatpay", "error", {*wx_errors.NOT_FOUND_CODES, *wx_errors.RATE_LIMIT_CODES}),
        ("huishouqian", "status", hsq_mapping.STATUS_LABELS),
        ("huishouqian", "history", hsq_mapping.OPERATE_TYPE_LABELS),
        ("huishouqian", "notification", hsq_mapping.ACTION_TYPE_LABELS),
        ("huishouqian", "error", hsq_errors.CODE_TABLE),
        ("miniprogram", "status", mp_enums.STATUSES),
        ("miniprogram", "problem", mp_enums.COMPLAINT_TYPES),
        ("miniprogram", "history", mp_enums.ITEM_TYPES),
        ("miniprogram", "notification", {f"status:{code}" for code in mp_enums.STATUSES}),
        ("miniprogram", "appeal", mp_enums.APPEAL_STATES),
        ("miniprogram", "return", mp_enums.RETURN_ORDER_STATUSES),
        ("miniprogram", "error", mp_errors._KNOWN),
    ],
)
def test_every_code_of_each_channel_table_is_in_the_registry(channel: str, kind: str, codes: object) -> None:
    missing = sorted(str(code) for code in codes if code_tables.lookup(channel, kind, code) is None)  # type: ignore[attr-defined]
    assert missing == [], f"add {channel}/{kind} codes {missing} to web/console/code_tables.py"


@pytest.mark.parametrize(
    ("table", "enum"),
    [
        ("status", UnifiedStatus),
        ("action", ActionKind),
        ("audit", AuditAction),
        ("role", Role),
        ("deadline", DeadlineKind),
        ("sla_state", SlaState),
        ("alert_event", EventKind),
    ],
)
def test_every_core_enum_member_has_a_label(table: str, enum: type) -> None:
    values = {str(member.value) for member in enum}  # type: ignore[attr-defined]
    missing = sorted(values - set(core_labels.TABLES[table]))
    assert missing == [], f"add {missing} to core_labels.TABLES[{table!r}] and both catalogs"


def test_every_outbox_state_and_system_entry_has_a_label() -> None:
    states = {v for k, v in vars(ActionStatus).items() if k.isupper() and isinstance(v, str)}
    assert states <= set(core_labels.STATES), states - set(core_labels.STATES)
    assert {"sla_breach", "sla_warning", "assigned", "unassigned", "tagged", "note"} <= set(
        core_labels.SYSTEM_KINDS
    )


def _msgids() -> Iterator[tuple[str, str]]:
    for name, table in core_labels.TABLES.items():
        yield from ((f"core_labels.{name}", msgid) for msgid in table.values())
    yield from (("error_text.FIELDS", msgid) for msgid in error_text.FIELDS.values())
    yield from (("error_text._PATTERNS", msgid) for _pattern, msgid in error_text._PATTERNS)
    yield from (("error_text._BY_CLASS", msgid) for _cls, msgid in error_text._BY_CLASS)


def test_every_label_msgid_is_in_both_catalogs_and_translated_into_chinese() -> None:
    missing = [
        f"{where}: {msgid!r}"
        for where, msgid in _msgids()
        if msgid not in EN or not _CJK.search(ZH.get(msgid, ""))
    ]
    assert missing == [], "add these msgids to locale/zh_CN and locale/en messages.po:\n" + "\n".join(missing)


def test_unknown_codes_get_a_translated_generic_label_and_the_code_as_data() -> None:
    i18n.set_language("zh-CN")
    shown = str(labels.code_label("miniprogram", "history", 999))
    assert shown == '未识别的值 <code translate="no">999</code>'
    assert str(core_labels.audit_label("brand_new")) == '未识别的值 <code translate="no">brand_new</code>'
    assert str(labels.channel_label("alipay")) == '未识别的值 <code translate="no">alipay</code>'
    i18n.set_language("en")
    assert labels.history_label("miniprogram", "16").unescape() == "Waiting for the merchant's evidence"
    assert (
        str(labels.history_label("miniprogram", "status:201", "notification"))
        == "Status now: Pending merchant (48 h)"
    )
    assert str(labels.raw_status_label("huishouqian", "PROCESSING")) == "In progress"


_SAMPLES: list[errors.ComplaintDeskError] = [
    errors.ActionRefused(
        "mp_action is required: one of respond, supply_proof, supply_refund, appeal", field="mp_action"
    ),
    errors.ActionRefused("content is 201 characters; WeChat Pay accepts at most 200", field="content"),
    errors.ActionRefused("the file is 5.1 MB; at most 5 MB is accepted", field="file"),
    errors.ActionRefused(
        "the complaint is 已处理完成: WeChat Pay takes no further action on it", field="status"
    ),
    errors.ActionRefused("a colour is '#rrggbb' or a colour name", field="color"),
    errors.ConfigError("a required secret reference is empty"),
    errors.ChannelTransportError("POST /v3/x timed out", channel="wechatpay", sent=True),
    errors.InvalidRequest("reply: bad", channel="huishouqian", status=200, code="130009"),
    errors.InvalidRequest("complaint/reply: 309", channel="miniprogram", status=200, code="309"),
    errors.UpstreamUnavailable("down", channel="wechatpay", status=500, code="SYSTEM_ERROR"),
    errors.StorageError("s3 refused"),
    errors.Forbidden("not yours"),
]


@pytest.mark.parametrize("exc", _SAMPLES, ids=lambda e: type(e).__name__)
def test_core_and_upstream_errors_read_as_chinese_in_zh_cn(exc: errors.ComplaintDeskError) -> None:
    i18n.set_language("zh-CN")
    words, numbers = code_vocabulary()
    shown = error_text.message_for(exc)
    assert _CJK.search(str(shown)), shown
    assert findings(read(f"<p>{shown}</p>"), "zh-CN", words, numbers) == [], shown


def test_specific_messages_win_over_generic_ones() -> None:
    i18n.set_language("zh-CN")
    config = error_text.message_for(errors.ConfigError("a required secret reference is empty"))
    assert config == "此账号的凭据不完整：请管理员配置。"
    empty = error_text.message_for(errors.ActionRefused("the file is empty", field="file"))
    assert empty == "文件为空。"
    long = error_text.message_for(errors.ActionRefused("a note is at most 4000 characters", field="note"))
    assert long == '备注过长：最多 <span translate="no">4000</span> 个字符。'
    i18n.set_language("en")
    english = error_text.message_for(errors.ConfigError("a required secret reference is empty"))
    assert english.unescape().startswith("This account's credentials are incomplete")


def test_failed_actions_read_in_the_ui_language() -> None:
    words, numbers = code_vocabulary()
    for language in ("zh-CN", "en"):
        i18n.set_language(language)
        for code, message in [
            ("ActionRefused", "mp_action is required: one of respond, supply_proof, supply_refund, appeal"),
            ("130009", "reply: A reply takes at most four images (130009: 回复上传图片不能超过四张)"),
            ("PARAM_ERROR", "gave up after 5 attempts: 参数错误"),
            ("NEW_CODE", "never seen"),
        ]:
            channel = "huishouqian" if code == "130009" else "wechatpay"
            shown = error_text.failure_text(channel, code, message)
            assert findings(read(f"<p>{shown}</p>"), language, words, numbers) == [], shown
