"""One verify run: its options, the lifecycle that sequences the agent model and the box, and
the result every report renders."""
