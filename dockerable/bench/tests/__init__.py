"""Tests of the benchmark suite itself: how it judges, combines and runs (a short smoke run)."""
