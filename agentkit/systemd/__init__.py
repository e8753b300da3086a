"""systemctl and service as the box shows them to hooks: unit files (units.py), a small
service manager (services.py) and its command lines (systemctl.py).

Run inside the box on its own python: imports nothing of agentkit but itself and the standard
library.
"""
