"""Benchmarks: FlowAuth against the setups its users would pick instead (``make bench``)."""
