"""The PopPass domain: tokens, keys, sync rules and projections. Pure Python, no web framework."""
