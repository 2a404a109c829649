from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass(eq=False)
class Worker:
    """A running function container, as the orchestrator reports it."""

    container_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    address: str = "127.0.0.1:9000"
    created_at: float = field(default_factory=time.time)
    last_used_at: float = field(default_factory=time.time)
