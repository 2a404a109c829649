"""`gateproof auth new-key` and `gateproof auth hash`: credentials for the gateway.

The gateway stores only SHA-256 digests of API keys and worker tokens, so a
key is shown once, here, and never again.
"""

from __future__ import annotations

import argparse
import json
import sys

from gateproof.cli import EXIT_OK, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "auth",
        help="make an API key (shown once) and the hashed entry the gateway stores",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = actions.add_parser("new-key", help="a new API key and its line for the key file")
    new.add_argument("--user", required=True, help="the user id the key stands for")
    new.add_argument("--tier", help="the user's tier (rate limits, allowed functions)")
    digest = actions.add_parser(
        "hash", help="the digest of a secret read from standard input (for worker tokens)"
    )
    digest.set_defaults(func=run_hash)
    new.set_defaults(func=run_new_key)


def run_new_key(args: argparse.Namespace) -> int:
    from reference.gateway.services.auth.api_keys import new_key
    from reference.gateway.services.auth.authenticator import hash_secret

    key = new_key()
    entry = {"user": args.user, "tier": args.tier, "sha256": hash_secret(key)}
    entry = {k: v for k, v in entry.items() if v is not None}
    print(f"API key (shown once; give it to {args.user}): {key}", file=sys.stderr)
    print(f"  - {json.dumps(entry)}")
    return EXIT_OK


def run_hash(args: argparse.Namespace) -> int:
    from reference.gateway.services.auth.authenticator import hash_secret

    secret = sys.stdin.readline().rstrip("\n")
    if not secret:
        raise UsageError("give the secret on standard input: gateproof auth hash < token.txt")
    print(hash_secret(secret))
    return EXIT_OK
