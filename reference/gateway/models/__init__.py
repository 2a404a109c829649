"""Domain types of the gateway: no FastAPI, no I/O."""

from reference.gateway.models.scaling import ScalingConfig

__all__ = ["ScalingConfig"]
