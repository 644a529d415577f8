"""Upstream channels. The core only sees what ``channels.base`` defines."""
