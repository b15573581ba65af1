"""Fault suite of the bus: traffic under crashes, and a verifier against a fault-free reference.

``python -m exchange.faults.suite`` runs every scenario on a three-broker cluster and prints
one line per scenario (see :mod:`exchange.faults.verify`); ``python -m
exchange.faults.bench_recovery`` measures how long a killed worker takes to come back.
"""
