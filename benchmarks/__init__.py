"""Benchmarks, sweeps and the load test: tooling that prints figures, kept out of the product packages.

``newsqa bench ...`` reaches the commands in :mod:`benchmarks.cli` through the ``newsqa.commands`` entry
point; the sweep scripts run from the repository root (``PYTHONPATH=. python benchmarks/<name>.py``).
"""
