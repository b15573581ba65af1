"""The local broker's ports lie outside the kernel's ephemeral range.

A stopped node restarts on its own ports; a port from the ephemeral range can meanwhile be
taken as the source port of any outgoing connection (a CI run failed on this).
"""

from __future__ import annotations

import socket

from exchange.localbroker import load_localkafka

localkafka = load_localkafka()


def test_ports_differ_are_bindable_and_not_ephemeral() -> None:
    low, high = localkafka._ephemeral_range()
    ports = localkafka.free_ports(6)
    assert len(set(ports)) == 6
    for port in ports:
        assert not low <= port <= high, f"{port} is in the ephemeral range {low}-{high}"
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_a_taken_port_is_not_handed_out(monkeypatch) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        # Only one candidate port, and it is taken: free_ports must not return it.
        taken = held.getsockname()[1]
        assert taken > 21000  # the kernel chose it from its ephemeral range
        monkeypatch.setattr(localkafka, "_ephemeral_range", lambda: (taken + 1, 65535))
        monkeypatch.setattr(localkafka.random, "shuffle", lambda pool: pool.sort(
            key=lambda p: p != taken))
        ports = localkafka.free_ports(1)
        assert ports != [taken]
        assert not localkafka.port_is_free(taken)
