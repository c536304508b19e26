"""Alerts in Slack: the watcher's wiring, the posts to the endpoint's channel, the `/alerts`
command and the Acknowledge / Silence / Shift-away buttons."""
