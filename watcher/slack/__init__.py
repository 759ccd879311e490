"""Slack: the Web API client and notifier, Block Kit, and the /ctwatch slash commands."""
