"""agentkit timed as it is installed.

pip compiles a package's bytecode when it installs it. A checkout installed in editable mode
under PYTHONDONTWRITEBYTECODE=1 (as this project's CI sets it) has none, and every timed run
would compile every module again (~0.05 s of each start-up).
"""

from __future__ import annotations

import compileall
import importlib.util
import os


def compile_agentkit() -> None:
    spec = importlib.util.find_spec("agentkit")
    if spec is None or spec.origin is None:
        raise SystemExit("agentkit is not installed: pip install -e .")
    compileall.compile_dir(os.path.dirname(spec.origin), quiet=1)
