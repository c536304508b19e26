"""`/traffic`: show the split, request a shift or a rollback (through approvals), start a
canary (through rollouts), lock and unlock; and the Shift-10% button under a new deployment."""
