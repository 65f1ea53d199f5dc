"""Writes of the governance area. Every write checks its input, runs in one transaction and
appends an audit event; pages, the API and the CLI all go through these."""
