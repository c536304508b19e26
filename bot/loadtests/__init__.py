"""`/loadtest`: the listener, the runs in progress and their Cancel button."""
