"""The capacity simulator: a SimPy model of one pool and breaker per function.

``model`` runs one replication, ``replications`` runs many over the cores and
``results`` turns them into estimates with confidence intervals and an SLO
verdict; ``planner`` searches pool sizes; ``queueing`` holds the exact results
the model is tested against; ``conformance`` and ``virtual_loop`` replay a
model run on the gateway's real pool. The pool rules are mirrored in ``pool``.
"""
