"""The pre-refactor gateway, kept beside the reference one (strangler fig).

``main`` is the monolith (``create_app(functions_path, routing_path)`` and a
module-level ``app``), ``pool`` and ``breaker`` hold the known defects. Same
HTTP API as ``reference.gateway``, so every suite can target either.
"""
