"""One module per `gateproof` subcommand, each exposing ``register(subparsers)``."""
