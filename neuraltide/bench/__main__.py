"""``python -m neuraltide.bench [--suite NAME] [--quick] [--threads N] [--json PATH]``: run the
suites."""

from __future__ import annotations

import argparse
import datetime
import importlib
import json

import torch

from . import SUITES, machine


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m neuraltide.bench",
                                     description="NeuralTide against its peers, in one run.")
    parser.add_argument("--suite", choices=sorted(SUITES), action="append",
                        help="run only this suite (repeatable); default: all")
    parser.add_argument("--quick", action="store_true", help="small sizes, short timings")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="torch threads (default: torch's own choice)")
    parser.add_argument("--json", metavar="PATH",
                        help="also write every suite's rows and Markdown to this JSON file")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    results = {}
    for name in args.suite or list(SUITES):
        module = importlib.import_module(SUITES[name], __package__)
        if hasattr(module, "measure"):  # suites that give their rows as data
            rows = module.measure(quick=args.quick)
            text = module.table(rows)
            if hasattr(module, "appendix"):  # what follows the table (lif: memory per model)
                text += "\n\n" + module.appendix(quick=args.quick)
        else:
            rows, text = None, module.report(quick=args.quick)
        print(f"## {name}\n\n{text}\n", flush=True)
        results[name] = {"rows": rows, "markdown": text}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": datetime.date.today().isoformat(), "machine": machine(),
                       "quick": args.quick, "suites": results}, f, indent=1, default=str)


if __name__ == "__main__":
    main()
