from __future__ import annotations

from consolekit import account, cheap_hashing, complaint, principal, sessions_for, sub_merchant, user
from sqlalchemy import select

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.db import unit_of_work


def test_scope_filter_in_sql_matches_allows(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with cheap_hashing(), unit_of_work(sessions) as s:
        provider = account(s, "sp", kind="service_provider")
        sub_a, sub_b = sub_merchant(s, provider, "1230000001"), sub_merchant(s, provider, "1230000002")
        shop, other = account(s, "shop"), account(s, "other")
        rows = {
            "sub_a": complaint(s, provider, merchant=sub_a).id,
            "sub_b": complaint(s, provider, merchant=sub_b).id,
            "provider": complaint(s, provider).id,
            "shop": complaint(s, shop).id,
            "other": complaint(s, other).id,
        }
        cases = {
            "whole provider": (user(s, "u1", accounts=[provider]), {"sub_a", "sub_b", "provider"}),
            "one sub-merchant": (user(s, "u2", accounts=[sub_a]), {"sub_a"}),
            "shop and sub b": (user(s, "u3", accounts=[shop, sub_b]), {"shop", "sub_b"}),
            "everything": (user(s, "u4", all_accounts=True), set(rows)),
        }
        for label, (who, expected) in cases.items():
            p = principal(s, who)
            in_sql = set(s.scalars(select(Complaint.id).where(p.account_filter())))
            assert in_sql == {rows[k] for k in expected}, label
            in_python = {c.id for c in s.scalars(select(Complaint)) if p.allows(c)}
            assert in_python == in_sql, label
