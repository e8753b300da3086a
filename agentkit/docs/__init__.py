"""The generated documentation: a page per finding code and the agentkit.yml reference."""
