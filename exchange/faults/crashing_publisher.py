"""A department publisher that dies between send and acknowledgement (the fault, as a process).

``python -m exchange.faults.crashing_publisher SEED ENTERPRISES PROPERTIES START STOP``
rebuilds the seeded traffic, sends messages ``START:STOP`` without flushing, prints
``sent N`` and waits on stdin: the parent kills it with SIGKILL right then, so some sends are
on the wire, some acknowledged, some still in the producer's buffer. Bootstrap and every
other setting come from the ``EXCHANGE_`` environment.
"""

from __future__ import annotations

import sys

from exchange.faults.traffic import Traffic, TrafficSize, publish_range
from exchange.schemas import default_registry
from exchange.settings import load_settings
from producers.publisher import DepartmentPublisher, make_producer


def main(argv: list[str]) -> int:
    """Send the batch, announce it, wait to be killed (a clean exit never happens in tests)."""
    seed, enterprises, properties, start, stop = (int(a) for a in argv)
    settings = load_settings()
    registry = default_registry(settings)
    traffic = Traffic.generate(seed, TrafficSize(enterprises, properties), registry)
    publisher = DepartmentPublisher(settings, registry=registry, ensure_topics=False)
    raw = make_producer(settings)
    publish_range(publisher, raw, traffic, range(start, stop), flush=False)
    print(f"sent {stop - start}", flush=True)
    sys.stdin.read()  # the parent's SIGKILL arrives here, before any flush
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
