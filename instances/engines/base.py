from __future__ import annotations

from typing import Any, Protocol

from portal.operations import OperationContext


class Engine(Protocol):
    """What every engine does for an instance. Each step must be idempotent."""

    def provision(self, ctx: OperationContext, instance) -> dict[str, Any]: ...

    def update(self, ctx: OperationContext, instance) -> dict[str, Any]: ...

    def deprovision(self, ctx: OperationContext, instance) -> dict[str, Any]: ...
