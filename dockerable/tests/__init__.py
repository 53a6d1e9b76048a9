"""The test suite: unit tests on a real PostgreSQL, and the real image and compose stacks."""
