"""Progressive rollouts in Slack: starting one from an approval, its progress message and
thread replies, and its Pause / Resume / Promote / Abort buttons."""
