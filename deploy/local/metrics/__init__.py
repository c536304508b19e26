"""Metrics and autoscaling: the router's per-minute recorder, its archive on disk, the
Prometheus view, CPU and memory sampling, and the autoscaler with its pure policy."""
