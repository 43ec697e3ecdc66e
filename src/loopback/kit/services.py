"""Where a route finds the process's services: on the app's state, named, set once by ``create_app``.

Routes live in their domains, below the runtime that builds everything, so they ask for the one
service they need by name instead of importing the runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request


def from_state(name: str) -> Callable[[Request], Any]:
    """A FastAPI dependency answering ``request.app.state.<name>``; annotate it with the service's type."""

    async def service(request: Request) -> Any:  # async: no worker thread for an attribute read
        return getattr(request.app.state, name)

    service.__name__ = f"{name}_service"
    return service
