"""The grading container's entry point (run inside the single-user image, as its root).

``python -m ai4scale.grading.containers serve``
    Requests on stdin, events on stdout (the ``docker`` executor).
``python -m ai4scale.grading.containers run --request FILE``
    One request document from FILE, events on stdout (a Kubernetes Job).

See :mod:`ai4scale.grading.containers._protocol`.
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv=None):
    """Parse the command line and serve; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m ai4scale.grading.containers")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="answer protocol requests from stdin until EOF")
    run = sub.add_parser("run", help="answer the one request document of a file")
    run.add_argument("--request", required=True, metavar="FILE", help="the request document")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    from ._worker import run_document, serve

    if args.command == "serve":
        return serve()
    return run_document(args.request)


if __name__ == "__main__":
    sys.exit(main())
