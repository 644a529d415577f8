"""Reports: KPIs over complaints (``kpis``), computed once and shown by the dashboard, export and API."""
