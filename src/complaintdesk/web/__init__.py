"""HTTP edges: webhooks, JSON API, console."""
