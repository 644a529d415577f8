"""Tier 1: the tolerant models accept schema drift."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from complaintdesk.channels.wechatpay.models import Complaint, ComplaintListPage, HistoryEntry, HistoryPage

from .samples import complaint_doc, history_doc


def test_detail_document_parses() -> None:
    complaint = Complaint.from_raw(complaint_doc())
    assert complaint.complaint_order_info[0].amount == 3
    assert complaint.complaint_time is not None and complaint.complaint_time.utcoffset() is not None
    assert complaint.drift == []
    assert complaint.raw["complaint_id"] == "200201820200101080076610000"


def test_media_url_string_becomes_list() -> None:
    doc = complaint_doc(complaint_media_list=[{"media_type": "OPERATION_IMAGE", "media_url": "https://x/1"}])
    assert Complaint.from_raw(doc).complaint_media_list[0].media_url == ["https://x/1"]


@pytest.mark.parametrize(
    "media",
    [
        {"media_type": "USER_COMPLAINT_IMAGE", "media_url": ["u1", "u2"]},
        [{"media_type": "USER_COMPLAINT_IMAGE", "media_url": ["u1", "u2"]}],
        [{"media_type": "USER_COMPLAINT_IMAGE", "media_url": "u1"}, {"media_url": "u2"}],
    ],
)
def test_history_media_as_object_or_array(media: object) -> None:
    entry = HistoryEntry.from_raw(history_doc(complaint_media_list=media))
    assert [url for item in entry.complaint_media_list for url in item.media_url] == ["u1", "u2"]


def test_unknown_fields_and_enum_values_are_kept() -> None:
    doc = complaint_doc(complaint_state="ESCALATED", problem_type="NEW_TYPE", brand_new_field={"a": 1})
    complaint = Complaint.from_raw(doc)
    assert complaint.complaint_state == "ESCALATED"
    assert complaint.problem_type == "NEW_TYPE"
    assert complaint.model_extra == {"brand_new_field": {"a": 1}}


def test_numbers_as_strings_and_strings_as_numbers() -> None:
    doc = complaint_doc(
        complaint_id=200201820200101080076610000,
        user_complaint_times="2",
        apply_refund_amount="150",
        complaint_order_info=[
            {"transaction_id": 4200000404201909069117582536, "out_trade_no": 1, "amount": "300"}
        ],
        complaint_full_refunded="false",
    )
    complaint = Complaint.from_raw(doc)
    assert complaint.complaint_id == "200201820200101080076610000"
    assert complaint.user_complaint_times == 2
    assert complaint.apply_refund_amount == 150
    assert complaint.complaint_order_info[0].amount == 300
    assert complaint.complaint_order_info[0].transaction_id == "4200000404201909069117582536"
    assert complaint.complaint_full_refunded is False


def test_unparseable_optional_values_fall_back_and_are_recorded() -> None:
    doc = complaint_doc(user_complaint_times="many", in_platform_service={"x": 1}, complaint_time="garbage")
    complaint = Complaint.from_raw(doc)
    assert complaint.user_complaint_times is None
    assert complaint.in_platform_service is None
    assert complaint.complaint_time is None
    assert sorted(complaint.drift) == [
        "Complaint.complaint_time",
        "Complaint.in_platform_service",
        "Complaint.user_complaint_times",
    ]


def test_nulls_mean_absent() -> None:
    complaint = Complaint.from_raw(complaint_doc(complaint_media_list=None, incoming_user_response=None))
    assert complaint.complaint_media_list == []
    assert complaint.incoming_user_response is False
    assert complaint.drift == []


def test_payer_phone_not_in_repr() -> None:
    complaint = Complaint.from_raw(complaint_doc(payer_phone="CIPHERTEXT=="))
    assert "CIPHERTEXT" not in repr(complaint)
    assert "CIPHERTEXT" not in str(complaint)


def test_list_page_without_data_and_total() -> None:
    page = ComplaintListPage.from_raw({"limit": "50", "offset": 50})
    assert (page.data, page.limit, page.offset, page.total_count) == ([], 50, 50, None)
    page = ComplaintListPage.from_raw({"data": None, "limit": 50, "offset": 0, "total_count": 0})
    assert page.data == [] and page.total_count == 0


def test_list_item_without_id_fails_loudly() -> None:
    with pytest.raises(ValidationError):
        ComplaintListPage.from_raw({"data": [{"complaint_state": "PENDING"}], "limit": 50, "offset": 0})
    with pytest.raises(ValidationError):
        HistoryPage.from_raw({"data": {"log_id": "1"}, "limit": 50, "offset": 0})
