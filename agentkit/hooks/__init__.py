"""The on-instance hook actions: plain functions over a parsed config and a logger."""
