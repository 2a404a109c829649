"""Domain types of the gateway: no FastAPI, no I/O."""

from reference.gateway.models.context import InputContext
from reference.gateway.models.function import FUNCTION_NAME_PATTERN, FunctionEntity
from reference.gateway.models.identity import Identity
from reference.gateway.models.result import InvocationResult
from reference.gateway.models.scaling import ScalingConfig

__all__ = [
    "FUNCTION_NAME_PATTERN",
    "FunctionEntity",
    "Identity",
    "InputContext",
    "InvocationResult",
    "ScalingConfig",
]
