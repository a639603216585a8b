"""The HTTP API: REST for business systems, Prometheus metrics and the admin console."""
