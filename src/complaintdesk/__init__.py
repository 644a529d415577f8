"""complaintdesk: one inbox for WeChat Pay, Mini Program and Huishouqian consumer complaints."""

__version__ = "0.1.0"
