"""zcjax: zero-cost proxies for NAS in JAX."""
