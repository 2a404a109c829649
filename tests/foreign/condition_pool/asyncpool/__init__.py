"""asyncpool: a container pool for an asyncio gateway."""

from asyncpool.models import Worker
from asyncpool.pool import ContainerPool

__all__ = ["ContainerPool", "Worker"]
