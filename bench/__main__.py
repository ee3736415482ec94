"""python -m bench [locate] [create] [sweep] …: run the named benchmarks (default: all).
python -m bench city-build [--scale S] [--rebuild]: only build (or restore) the city dataset and summarise it."""
from __future__ import annotations

import importlib
import sys

ALL = ["locate", "create_http", "sweep", "header", "map_page", "map_tiles", "redraw", "slow_clients", "report_page", "export",
       "evaluation", "lists"]


def main(argv: list[str]) -> int:
    if argv[:1] == ["city-build"]:
        from . import city
        return city.main(argv[1:])
    names = argv or ALL
    for name in names:
        if name not in ALL:
            print(f"unknown benchmark {name!r}; choose from {', '.join(ALL)}", file=sys.stderr)
            return 2
    for name in names:
        importlib.import_module(f"bench.{name}").run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
