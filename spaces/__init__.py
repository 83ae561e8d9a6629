"""Search spaces: NAS-Bench-201."""
