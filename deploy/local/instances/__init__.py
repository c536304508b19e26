"""Deployment instances: one server process each (azmlinfsrv or fastserve), how it is
launched, probed, restarted and scaled by the supervisor, and its logs."""
