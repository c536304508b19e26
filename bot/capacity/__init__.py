"""`/capacity`: the listener, its live-traffic confirmation and its Cancel button."""
