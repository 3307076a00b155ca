"""Table output by default; ``-o json`` / ``-o yaml`` for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml
from tabulate import tabulate


def emit(data: Any, fmt: str, columns: list[tuple[str, str]] | None = None) -> None:
    if fmt == "json":
        print(json.dumps(data, indent=2, default=str))
        return
    if fmt == "yaml":
        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())
        return
    if isinstance(data, list):
        if not data:
            print("(none)")
            return
        cols = columns or [(key, key.upper()) for key in data[0]]
        rows = [[_cell(item.get(key)) for key, _ in cols] for item in data]
        print(tabulate(rows, headers=[title for _, title in cols], tablefmt="plain"))
        return
    if isinstance(data, dict):
        rows = [(key, _cell(value)) for key, value in data.items() if not isinstance(value, list | dict) or value]
        print(tabulate(rows, tablefmt="plain"))
        return
    print(data)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)


def err(message: str) -> None:
    print(f"sbay: {message}", file=sys.stderr)
