"""The header's status strip: what each chip says, and that it is escaped."""

from __future__ import annotations

from jobdash.domain.clock import ManualClock
from jobdash.services.worker_registry import WorkerInfo
from jobdash.transport.ingestion import IngestionStats
from jobdash.transport.kafka_health import ConnectionState, KafkaHealthSnapshot
from jobdash.ui.header import (
    Chip,
    Health,
    PageHeader,
    ingestion_chip,
    kafka_chip,
    render_chips,
    workers_chip,
)

NOW = 1_764_417_600_000_000_000


def stats(**changes: object) -> IngestionStats:
    values: dict[str, object] = {
        "messages": 100,
        "applied": 100,
        "decode_errors": 0,
        "route_errors": 0,
        "transport_errors": 0,
        "rate_per_s": 12.34,
        "last_message_at": NOW - 400_000_000,
        "last_error": None,
        "running": True,
    }
    values.update(changes)
    return IngestionStats(**values)  # type: ignore[arg-type]


def test_healthy_ingestion_shows_rate_and_age_in_green() -> None:
    chip = ingestion_chip(stats(), NOW, stale_after=6.0)
    assert chip.text == "12.3 msg/s · last 0.4 s ago"
    assert chip.health is Health.ok


def test_silent_ingestion_turns_amber_after_the_stale_threshold() -> None:
    chip = ingestion_chip(stats(last_message_at=NOW - 7_000_000_000), NOW, 6.0)
    assert "last 7.0 s ago" in chip.text
    assert chip.health is Health.warn
    assert ingestion_chip(stats(last_message_at=None), NOW, 6.0).text.endswith(
        "no message yet"
    )


def test_decode_errors_are_counted_in_the_text() -> None:
    chip = ingestion_chip(stats(decode_errors=3), NOW, 6.0)
    assert chip.text.endswith("3 decode errors")
    assert chip.health is Health.warn


def test_a_stopped_or_failing_ingestion_is_red_and_says_so() -> None:
    stopped = ingestion_chip(stats(running=False), NOW, 6.0)
    assert (stopped.label, stopped.health) == ("INGESTION STOPPED", Health.bad)
    failing = ingestion_chip(
        stats(transport_failing=True, last_error="broker gone"), NOW, 6.0
    )
    assert (failing.label, failing.health) == ("TRANSPORT FAILING", Health.bad)
    assert "last error: broker gone" in failing.title


def test_kafka_chip_names_the_address_state_and_lag() -> None:
    snapshot = KafkaHealthSnapshot(
        "broker:9092", ConnectionState.connected, NOW, consumer_lag=5
    )
    chip = kafka_chip(snapshot)
    assert (chip.label, chip.text, chip.health) == (
        "KAFKA broker:9092",
        "connected · lag 5",
        Health.ok,
    )
    down = kafka_chip(
        KafkaHealthSnapshot(
            "broker:9092",
            ConnectionState.disconnected,
            NOW,
            last_error="Connection refused",
            error_count=4,
        )
    )
    assert (down.text, down.health) == ("disconnected", Health.bad)
    assert "Connection refused (4 errors)" in down.title


def test_chips_are_rendered_escaped() -> None:
    markup = render_chips(
        [Chip("transport", "<b>", "<script>alert(1)</script>", Health.bad, '"x"')]
    )
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    assert 'title="&quot;x&quot;"' in markup
    assert 'class="jd-chip jd-chip-transport jd-chip-bad"' in markup


def test_header_shows_simulated_transport_read_only_and_utc_clock() -> None:
    clock = ManualClock(NOW)
    header = PageHeader(
        clock, lambda: stats(), stale_after=6.0, read_only=True, update_every=1
    )
    markup = header.__panel__().object
    assert "READ-ONLY" in markup
    assert "SIMULATED" in markup
    assert "2025-11-29 12:00:00 UTC" in markup


def test_header_rerenders_only_every_nth_tick() -> None:
    clock = ManualClock(NOW)
    header = PageHeader(clock, lambda: stats(), stale_after=6.0, update_every=4)
    pane = header.__panel__()
    clock.advance(5)
    for _ in range(3):
        header.refresh()
        assert "12:00:00 UTC" in pane.object
    header.refresh()
    assert "12:00:05 UTC" in pane.object


def worker(n: int, *, stale: bool = False, error: str | None = None) -> WorkerInfo:
    return WorkerInfo(
        f"dream/data_reduction/worker-{n}",
        "data_reduction",
        f"worker-{n}",
        "running",
        NOW,
        1,
        error,
        stale,
    )


def test_workers_chip_counts_silent_and_failing_workers() -> None:
    healthy = workers_chip([worker(0), worker(1)])
    assert (healthy.text, healthy.health) == ("2 workers", Health.ok)
    partial = workers_chip([worker(0, stale=True), worker(1, error="disk full")])
    assert (partial.text, partial.health) == (
        "2 workers · 1 silent · 1 failing",
        Health.warn,
    )
    assert "dream/data_reduction/worker-0: silent" in partial.title
    assert "worker-1: running (disk full)" in partial.title
    dead = workers_chip([worker(0, stale=True)])
    assert (dead.text, dead.health) == ("1 worker · 1 silent", Health.bad)
    none = workers_chip([])
    assert (none.text, none.health) == ("no workers heard", Health.bad)


def test_header_shows_the_workers_chip_when_given_a_registry() -> None:
    header = PageHeader(
        ManualClock(NOW),
        lambda: stats(),
        stale_after=6.0,
        workers=lambda: [worker(0)],
    )
    assert "jd-chip-workers jd-chip-ok" in header.render()
