"""The benchmark suite: real stacks under wrk, side by side, with targets (entry point: dockerable/bench/run)."""
