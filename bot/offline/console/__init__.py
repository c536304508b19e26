"""``flightdeck console``: the real Slack app, offline, in a terminal.

Slash commands typed (or piped in) become signed requests dispatched to the Bolt
app; its Web API calls go to an in-process Slack stand-in; what a Slack user would
see is printed as text, buttons numbered so that they can be clicked.
"""
