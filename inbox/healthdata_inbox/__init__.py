"""Notification inbox for healthcare vendor webhooks."""
