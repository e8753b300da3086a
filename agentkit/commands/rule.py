"""`agentkit rule CODE`: a finding code's documentation page in the terminal (as `ruff rule`)."""

from __future__ import annotations

import argparse
import sys

from agentkit.docs.pages import rule_codes, rule_page

EXIT_UNKNOWN = 1


def run(args: argparse.Namespace) -> int:
    code = str(args.code).strip().upper()
    if code.isdigit():  # `agentkit rule 515`: the number alone, as people say it
        code = f"AK{code}"
    if code not in rule_codes():
        print(f"agentkit rule: {args.code!r} is not a finding code. Codes are AK followed by "
              f"three digits, as lint, verify and explain print them (e.g. AK515); the known "
              f"ones run from {min(rule_codes())} to {max(rule_codes())} and each has a page "
              "under docs/rules/.", file=sys.stderr)
        return EXIT_UNKNOWN
    sys.stdout.write(rule_page(code))
    return 0
