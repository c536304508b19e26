"""The bot without Slack: the terminal console and the Slack Web API stand-in it talks to."""
