"""The revision archive: reading it safely, and what is in it."""
