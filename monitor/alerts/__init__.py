"""Alerts for editors: rules decide (rules.py), the outbox remembers (outbox.py),
channels deliver (channels.py, sender.py), render.py writes the messages and
cycle.py ties them to the store.
"""
