"""Alerts: P99 latency and error-rate watch, posted to the endpoint's channel."""
