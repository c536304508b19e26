"""The shared bottom of Flightdeck: durations, clocks, the database and the base error.

Imported by every package above it; imports none of ours."""
