"""Benchmarks against the peers, in one run: ``python -m neuraltide.bench``.

Each suite is a module of this package with a ``report(quick: bool) -> str`` function that
measures NeuralTide and its peers side by side in one process and returns a Markdown section
(table, date, machine). ``python -m neuraltide.bench`` runs every suite in :data:`SUITES`;
``--suite NAME`` runs one, ``--quick`` uses small sizes and short timings.
"""

from ._common import machine

__all__ = ["SUITES", "machine"]

#: suite name -> module (relative to this package, or absolute) that defines
#: ``report(quick) -> str``; the widgets suite lives with the widgets, imported only when run
SUITES: dict[str, str] = {"lif": ".lif", "network": ".network", "stdp": ".stdp",
                          "widgets": "neuraltide.widgets.bench"}
