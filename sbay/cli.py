"""`sbay` entry point: argparse over command modules in sbay/commands/.

Every command module has ``register(subparsers)``; each sub-command sets ``func(args, ctx)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sbay import __version__
from sbay.client import EXIT_USAGE, Client, CliError
from sbay.commands import auth, brokers, clusters, inbox, instances, ops, orgs, platforms, purchases, types
from sbay.config import Config
from sbay.output import err

COMMAND_MODULES = [auth, orgs, ops, inbox, clusters, instances, types, brokers, platforms, purchases]


class Context:
    """What a command needs: the saved config, an API client, and the output format."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.config = Config.load()
        self.output = getattr(args, "output", "table")

    def client(self) -> Client:
        org = getattr(self.args, "org", None) or self.config.org
        return Client(self.config.url, self.config.token, org)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sbay", description="Servicebay command-line client.")
    parser.add_argument("--version", action="version", version=f"sbay {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-o", "--output", choices=["table", "json", "yaml"], default="table", help="output format")
    common.add_argument("--org", help="act in this organization (default: the one chosen with `sbay orgs switch`)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args, Context(args)) or 0)
    except CliError as exc:
        err(str(exc))
        for field, messages in exc.fields.items():
            for message in messages if isinstance(messages, list) else [messages]:
                err(f"  {field}: {message}")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
