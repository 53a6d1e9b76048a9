"""The benchmark suite: real stacks under wrk, side by side, with targets (dockerable/bench/run)."""
