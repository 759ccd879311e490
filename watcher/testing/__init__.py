"""Doubles and samples for the demo, the benchmark and the tests: real HTTP on 127.0.0.1."""
