"""Delivery: routing, the outbox worker, the Notifier protocol, console and email."""
