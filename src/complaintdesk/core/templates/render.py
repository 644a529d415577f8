"""Render reply templates in a sandbox: plain text, a whitelist of variables, no attribute access.

Templates are checked when saved (:func:`validate`) and again before each render, so a template
stored before a rule changed cannot slip through. Allowed: ``{{ variable }}``, a few text filters
(``{{ order_no | upper }}``), ``{% if %}`` with comparisons, and literal text.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from complaintdesk.clock import utcnow
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.errors import ActionRefused

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_BODY = 2000
#: The only names a template may use, with what they mean (shown by the composer).
VARIABLES: dict[str, str] = {
    "order_no": "merchant order number (out_trade_no), else the payment transaction id",
    "amount_yuan": "order amount in yuan, e.g. 19.90",
    "complaint_id": "the complaint number the customer sees (upstream id)",
    "deadline": "the current deadline, Beijing time, e.g. 2026-11-03 16:00",
    "merchant_name": "name of the merchant complained about",
    "problem": "the customer's description of the problem",
    "today": "today's date, Beijing time, e.g. 2026-11-03",
}
SAFE_FILTERS = frozenset({"upper", "lower", "trim", "truncate", "default", "replace", "title", "capitalize"})
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.Filter,
    nodes.Keyword,
    nodes.If,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.CondExpr,
    nodes.Concat,
)
_ENV = ImmutableSandboxedEnvironment(
    autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True, auto_reload=False
)


def _refuse(message: str, reason: str = "variables", **context: object) -> ActionRefused:
    """A refusal of the body; ``reason`` (variables, length, syntax) lets an edge word it in its language."""
    return ActionRefused(message, field="body", reason=reason, **context)


def _allowed_list() -> str:
    return ", ".join(VARIABLES)


def validate(body: str) -> None:
    """Refuse a template that is too long, does not parse, or uses anything beyond the whitelist."""
    if len(body) > MAX_BODY:
        raise _refuse(f"a template is at most {MAX_BODY} characters", "length", limit=MAX_BODY)
    try:
        tree = _ENV.parse(body)
    except TemplateSyntaxError as exc:
        raise _refuse(
            f"template syntax error on line {exc.lineno}: {exc.message}", "syntax", line=exc.lineno
        ) from None
    found = list(_walk(tree))
    if any(isinstance(node, nodes.Getattr | nodes.Getitem) for node in found):
        raise _refuse(
            "templates may not read attributes or items (like 'x.y' or 'x[0]'); "
            f"use one of the variables: {_allowed_list()}"
        )
    for node in found:
        _check(node)


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    yield node
    for child in node.iter_child_nodes():
        yield from _walk(child)


def _check(node: nodes.Node) -> None:
    if isinstance(node, nodes.Name):
        if node.ctx != "load" or node.name not in VARIABLES:
            raise _refuse(f"unknown variable '{node.name}'; the variables are: {_allowed_list()}")
        return
    if isinstance(node, nodes.Filter) and node.name not in SAFE_FILTERS:
        raise _refuse(f"filter '{node.name}' is not allowed; use one of: {', '.join(sorted(SAFE_FILTERS))}")
    if not isinstance(node, _ALLOWED_NODES):
        raise _refuse(
            f"'{type(node).__name__}' is not allowed in a reply template; use variables and if only"
        )


def context_for(complaint: Complaint, merchant: MerchantAccount | None, *, now: datetime) -> dict[str, str]:
    """The variable values for one complaint (missing values are empty strings)."""
    order_no = ""
    for order in complaint.orders or []:
        order_no = str(order.get("out_trade_no") or order.get("transaction_id") or "")
        if order_no:
            break
    due = complaint.deadline_at or complaint.sla_due_at
    return {
        "order_no": order_no,
        "amount_yuan": "" if complaint.amount_fen is None else f"{complaint.amount_fen / 100:.2f}",
        "complaint_id": complaint.external_id,
        "deadline": due.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if due else "",
        "merchant_name": (merchant.display_name or merchant.name) if merchant is not None else "",
        "problem": complaint.problem_description or complaint.problem_type or "",
        "today": now.astimezone(SHANGHAI).strftime("%Y-%m-%d"),
    }


def render(
    template_body: str, complaint: Complaint, merchant: MerchantAccount | None, *, now: datetime | None = None
) -> str:
    """The reply text for ``complaint`` (ActionRefused with a clear message when the template is unusable)."""
    return render_text(template_body, context_for(complaint, merchant, now=now or utcnow()))


def render_text(template_body: str, variables: dict[str, str]) -> str:
    """Render a validated template with explicit variable values (previews use sample values)."""
    validate(template_body)
    try:
        return _ENV.from_string(template_body).render(**{k: variables.get(k, "") for k in VARIABLES})
    except UndefinedError as exc:
        raise _refuse(f"{exc.message}; the variables are: {_allowed_list()}") from None
    except SecurityError as exc:
        raise _refuse(f"the template tried something unsafe: {exc}") from None
    except TemplateError as exc:
        raise _refuse(f"the template cannot be rendered: {exc.message}") from None
