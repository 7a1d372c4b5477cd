"""Requests kept for later: what the business's system could not answer during an outage."""
