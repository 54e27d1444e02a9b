"""Conformant variants: the mirror of tests/broken. Each makes one legitimate choice the mock does not."""
