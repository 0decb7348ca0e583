"""Helpers for jobdash's own tests and benchmarks; not part of the dashboard.

They ship with the package so that ``tests/`` and ``benchmarks/`` import the
same code by one name, with no edits of the import path. Nothing in the
dashboard imports them, and this package imports none of its modules, so
each costs only what it needs (``browser`` needs Playwright, of the ``test``
extra). Helpers that need pytest stay in ``tests/``.

``actors``
    The users tests act as (``OPERATOR``, ``VIEWER``).
``waiting``
    ``wait_until``: poll a condition to a deadline, fail naming what did not
    happen.
``ports``
    ``free_port``, ``is_listening``: loopback ports of servers we start.
``processes``
    The ``jobdash`` console script, ``JOBDASH_*`` environments of child
    processes, ``stop_process`` (SIGTERM, then SIGKILL).
``servers``
    ``ServerProcess``: a server subprocess with its log, probed until live.
``sinks``
    ``RefusingSink``: a command sink that refuses some sources' commands.
``kafka_cluster``, ``tcp_proxy``, ``kcat_client``
    The Kafka rig: librdkafka's mock cluster in a helper process, a TCP
    proxy to cut, Debian's ``kcat`` as an independent client (see
    ``docs/decisions/0001-kafka-outage-testing.md``).
``served_app``
    ``serve_dashboard``: jobdash served in this process over a synthetic
    instrument, with heartbeat emission times.
``browser``
    Chromium sessions with the in-page probe (``probe.js``).
``freshness``
    State changes injected into a served app, timed until pages show them.
``frame_log``
    ``FrameLog``: when the server wrote each websocket frame, per browser
    connection (the server's share of a change's latency).
"""
