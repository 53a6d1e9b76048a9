"""Management commands that create, check and ship environment folders."""
