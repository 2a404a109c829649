"""The foreign trees under fixtures/ are audited in subprocesses, never collected here."""

collect_ignore_glob = ["fixtures/*"]
