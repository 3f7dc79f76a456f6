"""``python -m neuraltide.bench [--suite NAME] [--quick]``: run the benchmark suites."""

from __future__ import annotations

import argparse
import importlib

from . import SUITES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m neuraltide.bench",
                                     description="NeuralTide against its peers, in one run.")
    parser.add_argument("--suite", choices=sorted(SUITES), action="append",
                        help="run only this suite (repeatable); default: all")
    parser.add_argument("--quick", action="store_true", help="small sizes, short timings")
    args = parser.parse_args(argv)
    for name in args.suite or list(SUITES):
        module = importlib.import_module(SUITES[name], __package__)
        print(f"## {name}\n\n{module.report(quick=args.quick)}\n", flush=True)


if __name__ == "__main__":
    main()
