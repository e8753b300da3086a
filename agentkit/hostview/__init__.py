"""The copy-on-write view of this machine a verify run works in.

Reads fall through to the host, writes stay in a throw-away root (view.py), with per-path
bookkeeping kept on disk (records.py over store.py).
"""
