"""Approvals: the approval store, the Approve / Reject flow shared by every kind of request
(traffic shifts, rollouts, promotions), its message and its buttons."""
