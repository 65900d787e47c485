"""In-memory fakes for unit tests. Each passes the same contract tests as the real adapter (tests/contract)."""
