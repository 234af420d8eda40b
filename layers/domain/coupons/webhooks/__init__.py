"""Webhooks (DESIGN 2.9): events from committed changes (events.py, fed by the table's
stream), signed (signing.py) and sent only to public https targets (targets.py)."""
