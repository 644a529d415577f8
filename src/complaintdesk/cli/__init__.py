"""The ``complaintdesk`` command line: one module per command group."""
