"""The ``-p key=value`` / ``-f params.yaml`` options shared by provision and update.

Values are typed by the type version's schema (sbay.commands.types.parameters_for); ``-p``
wins over ``-f``; the server validates with the same code as the form and the API.
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter value (repeatable; dotted keys for nested values)",
    )
    parser.add_argument(
        "-f",
        "--file",
        action="append",
        default=[],
        metavar="FILE",
        help="a YAML or JSON file of parameter values (repeatable)",
    )
