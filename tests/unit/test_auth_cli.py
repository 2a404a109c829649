"""`gateproof auth`: a key is shown once and the printed entry lets it in."""

from __future__ import annotations

import io
import json

import pytest

from gateproof.cli import EXIT_OK, EXIT_USAGE, main
from reference.gateway.services.auth.api_keys import ApiKeyEntry, ApiKeys
from reference.gateway.services.auth.authenticator import hash_secret


def test_new_key_prints_the_key_once_and_an_entry_that_verifies_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["auth", "new-key", "--user", "dana", "--tier", "pro"]) == EXIT_OK
    out, err = capsys.readouterr()
    key = err.rsplit(": ", 1)[1].strip()
    entry = ApiKeyEntry(**json.loads(out.strip().removeprefix("- ")))
    assert key not in out  # stdout (the file line) carries only the digest
    identity = ApiKeys([entry]).verify(key)
    assert identity is not None and (identity.subject, identity.tier) == ("dana", "pro")
    assert ApiKeys([entry]).verify(key + "x") is None


def test_hash_reads_the_secret_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("wt_token\n"))
    assert main(["auth", "hash"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == hash_secret("wt_token")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["auth", "hash"]) == EXIT_USAGE
