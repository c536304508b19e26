"""The console's own texts (what the bot says comes from bot/ and commands/)."""

from __future__ import annotations

BANNER = (
    "Flightdeck console: the Slack app, offline. Backend: {backend}. Channel #{channel}.\n"
    "You are {name} ({id}). Type a slash command (/traffic, /deploy, /scale, /logs, /loadtest),\n"
    "a button's number to click it, :as <user> to switch user, :help for more, :quit to leave."
)
HELP = (
    "/<command> [text]  a slash command, e.g. /traffic product-recommender\n"
    "<n> or click <n>   click button [n]\n"
    ":as <user>         act as another user (:users lists them)\n"
    ":buttons           the buttons still on screen\n"
    ":wait [seconds]    watch rollouts and alerts (default 60; sooner when none is active)\n"
    ":quit              leave (end of input does too)"
)
NOW_ACTING = "You are now {name} ({id})."
WAITING = "… waiting up to {seconds} s for the bot's rollouts and alerts (Ctrl-C stops)"
BAD_WAIT = "':wait {arg}': give seconds, e.g. :wait 30."
UNKNOWN_USER = "No user '{who}' (users: {known})."
UNKNOWN_INPUT = "'{text}' is neither a slash command, a button number nor a :command (:help)."
BAD_CLICK = "'{text}': give the button's number, e.g. click 2."
NO_SUCH_BUTTON = "There is no button [{number}] on screen any more."
NO_BUTTONS = "No buttons on screen."
CONFIRM_PROMPT = "{ok}? [y/N] "
CANCELLED = "Cancelled: nothing was sent."
HTTP_ERROR = "(the app answered HTTP {status})"
STILL_WORKING = "(the bot is still working; its messages will show as they come)"
WORKING = "… working (a deployment or scaling takes a while)"
NEW_MESSAGE = "── flightdeck in #{channel}"
UPDATED_MESSAGE = "── flightdeck in #{channel} (message updated)"
EPHEMERAL = "── flightdeck (only visible to you)"
FILE_LINE = "── file {name}: {lines} lines, {size} bytes{where}"
BINARY_FILE_LINE = "── file {name}: {size} bytes{where}"
