"""Where the CLI keeps its login: ``$SBAY_CONFIG`` or ``~/.config/sbay/config.json`` (mode 600).

``SBAY_URL``, ``SBAY_TOKEN`` and ``SBAY_ORG`` override the file, for scripts and CI.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


def config_path() -> Path:
    explicit = os.environ.get("SBAY_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sbay" / "config.json"


@dataclass
class Config:
    url: str = ""
    token: str = ""
    org: str = ""

    @classmethod
    def load(cls) -> Config:
        data: dict = {}
        path = config_path()
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                data = {}
        config = cls(**{k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__})
        config.url = os.environ.get("SBAY_URL", config.url)
        config.token = os.environ.get("SBAY_TOKEN", config.token)
        config.org = os.environ.get("SBAY_ORG", config.org)
        return config

    def save(self) -> Path:
        path = config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle, indent=2)
        return path
