"""Channel-neutral domain: accounts, complaints, timeline, inbox, sync."""
