"""Engines: one interface, two implementations (template engine now; broker engine with the OSB work).

Engines are called only from operation handlers (instances/handlers.py), never from views.
"""

from __future__ import annotations

from instances.engines.base import Engine
from instances.engines.broker import BrokerEngine
from instances.engines.template import TemplateEngine


def engine_for(instance) -> Engine:
    source = getattr(instance.type, "source", "template")
    if source == "template":
        return TemplateEngine()
    if source == "broker":
        return BrokerEngine()
    raise NotImplementedError(f"No engine for types of source {source!r} yet.")


__all__ = ["BrokerEngine", "Engine", "TemplateEngine", "engine_for"]
