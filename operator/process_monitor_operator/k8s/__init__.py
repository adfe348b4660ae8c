"""Talking to Kubernetes: serialize.py and compare.py (pure), api.py (the lightkube client), applier.py (apply
only what differs). Imports one way: serialize, compare <- api <- applier. Used by render (serialize), reconcile,
app and the CLI (serialize).
"""
