"""The demo's alerts: a local receiver registered as a WeCom-shaped robot and a Standard Webhooks endpoint.

A newcomer watches alerts arrive at the receiver's page (``sandbox/receiver.py``): new complaints,
consumer messages, deadlines approaching and missed, as the demo's traffic produces them. The robot
waits ``ROBOT_INTERVAL`` seconds between messages, so a burst arrives as one digest.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.alerts import service as alert_service
from complaintdesk.sandbox.receiver import Inbox
from complaintdesk.security import DataCipher
from complaintdesk.settings import AlertSettings

ROBOT_INTERVAL = 20.0


def setup(
    session: Session,
    cipher: DataCipher,
    settings: AlertSettings,
    receiver_url: str,
    account: str,
    inbox: Inbox | None = None,
) -> Inbox:
    """Register the receiver as a robot (every account) and an endpoint of ``account``; its inbox
    (``inbox``, when given, gets the robot's key and the endpoint's secret)."""
    key = secrets.token_hex(8)
    robot = alert_service.add_destination(
        session=session, cipher=cipher, settings=settings, name="demo-wecom-robot", kind="wecom",
        url=f"{receiver_url}/cgi-bin/webhook/send?key={key}", min_interval_seconds=ROBOT_INTERVAL,
    )  # fmt: skip
    alert_service.add_rule(session=session, destination_id=robot.id)
    account_id = session.scalars(select(MerchantAccount.id).where(MerchantAccount.name == account)).one()
    endpoint = alert_service.add_destination(
        session=session, cipher=cipher, settings=settings, name="demo-endpoint", kind="endpoint",
        url=f"{receiver_url}/endpoint", account_id=account_id,
    )  # fmt: skip
    alert_service.add_rule(session=session, destination_id=endpoint.id)
    inbox = inbox or Inbox(key=key)
    inbox.key, inbox.endpoint_secret = key, cipher.decrypt(endpoint.secret_enc)
    return inbox
