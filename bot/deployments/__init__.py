"""`/deploy`, `/scale` and `/logs`: the listeners of the commands that change or read a
deployment."""
