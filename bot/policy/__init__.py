"""Who may do what, and what was done: the access policy, endpoint locks, the audit log and
the traffic history."""
