"""One module per `gateproof bench TARGET`, each exposing ``register(subparsers)``.

A benchmark measures the candidate and its baseline side by side in one run
and prints both figures and their ratio; targets are checked here, never in
timed tests. ``mutation`` measures the suites themselves: how many deliberate
defects they catch.
"""
