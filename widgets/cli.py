"""``neuraltide explore neuron|network|stdp|phase``: open an explorer as a browser app.

Serves the app with Panel's server, which ships Bokeh's and Panel's JavaScript itself, so it
works offline (a classroom behind a firewall). The same apps run with ``panel serve`` through
:func:`app`, e.g. a script containing ``from neuraltide.widgets.cli import app;
app("neuron").servable()``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import panel as pn

__all__ = ["APPS", "app", "main"]


def _neuron() -> Any:
    from .neuron_explorer import NeuronExplorer
    return NeuronExplorer()


def _network() -> Any:
    from .network_explorer import NetworkExplorer
    return NetworkExplorer()


def _stdp() -> Any:
    from .stdp_explorer import STDPExplorer
    return STDPExplorer()


def _phase() -> Any:
    from .phase_plane import PhasePlane
    return PhasePlane()


#: app name -> factory of the explorer object (with ``.panel``, and ``.close()`` if it runs)
APPS: dict[str, Callable[[], Any]] = {"neuron": _neuron, "network": _network, "stdp": _stdp,
                                      "phase": _phase}


def app(name: str) -> pn.viewable.Viewable:
    """The layout of one app for the current session; a running explorer is stopped when the
    browser session ends, so no callback outlives its page."""
    if name not in APPS:
        raise ValueError(f"app: name must be one of {sorted(APPS)}, got {name!r}.")
    explorer = APPS[name]()
    close = getattr(explorer, "close", None)
    if close is not None and pn.state.curdoc is not None:
        pn.state.on_session_destroyed(lambda context: close())
    return explorer.panel


def serve(names: Sequence[str], *, port: int = 5006, address: str = "127.0.0.1",
          show: bool = True, threaded: bool = False) -> Any:
    """Serve the named apps at ``http://address:port/<name>``."""
    pn.extension()
    return pn.serve({n: (lambda n=n: app(n)) for n in names}, port=port, address=address,
                    show=show, threaded=threaded, title="NeuralTide",
                    websocket_origin=[f"{address}:{port}", f"localhost:{port}"])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="neuraltide",
                                     description="NeuralTide's interactive explorers.")
    sub = parser.add_subparsers(dest="command", required=True)
    explore = sub.add_parser("explore", help="open an explorer in the browser")
    explore.add_argument("apps", nargs="+", choices=sorted(APPS), metavar="APP",
                         help=f"one or more of {', '.join(sorted(APPS))}")
    explore.add_argument("--port", type=int, default=5006)
    explore.add_argument("--address", default="127.0.0.1")
    explore.add_argument("--no-show", action="store_true", help="do not open a browser tab")
    args = parser.parse_args(argv)
    print(f"serving {', '.join(args.apps)} at http://{args.address}:{args.port}/ (Ctrl-C ends)")
    serve(args.apps, port=args.port, address=args.address, show=not args.no_show)


if __name__ == "__main__":
    main()
