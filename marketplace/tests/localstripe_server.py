"""Run localstripe's aiohttp app on 127.0.0.1:PORT with disk persistence off (a test peer).

``python -m marketplace.tests.localstripe_server PORT``. localstripe's own command binds every
interface and pickles its store to /tmp; this binds loopback only and keeps the store in memory.
"""

from __future__ import annotations

import logging
import sys

from aiohttp import web
from localstripe import resources
from localstripe.server import app


def main() -> None:
    port = int(sys.argv[1])
    resources.Store.dump_to_disk = lambda self: None  # persistence off
    logging.basicConfig(level=logging.INFO, format="localstripe %(message)s")
    web.run_app(app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
