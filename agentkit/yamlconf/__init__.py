"""agentkit.yml read one way: a typed reader that keeps every problem with its line and key
chain (reader.py), each section's keys as data (schema.py), the JSON Schema editors use
written from that same data, and where the file is found (locate.py)."""
