"""Operations: Prometheus metrics (``metrics``, ``collector``, ``exporter``) and log context (``context``)."""
