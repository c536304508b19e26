"""The ``action_id`` of every button the commands render: the contract with the bot's listeners."""

from __future__ import annotations

__all__ = ["APPROVE", "REJECT", "SHIFT_TO_NEW"]

#: Approve a pending request; the button's value is the approval's id.
APPROVE = "flightdeck_approve"
#: Reject a pending request; the button's value is the approval's id.
REJECT = "flightdeck_reject"
#: Ask for a first traffic shift to a fresh deployment; value ``{"endpoint":..,"deployment":..}``.
SHIFT_TO_NEW = "flightdeck_shift_to_new"
