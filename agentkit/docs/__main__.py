"""`python -m agentkit.docs [--check] [ROOT]`: write the generated pages under ROOT (default:
the checkout this package is in); --check writes nothing and exits 1 when one differs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agentkit.docs.pages import generated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentkit.docs",
                                     description=__doc__)
    parser.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parents[2]),
                        help="the repository root (default: this checkout)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a page is not current")
    args = parser.parse_args(argv)
    stale = []
    for rel, text in generated().items():
        path = Path(args.root) / rel
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(rel)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(f"{len(stale)} generated page(s) are not current ({', '.join(stale[:5])}...): "
              "run `python -m agentkit.docs` and commit the result", file=sys.stderr)
        return 1
    print(f"{len(stale)} page(s) written" if not args.check else "pages are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
