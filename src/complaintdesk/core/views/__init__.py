"""The inbox query: filters, search, sort, keyset paging and view counts (one place, fast at 1M rows)."""
