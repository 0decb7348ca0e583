"""The System status view: what it writes of workers, sessions and ingestion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from bokeh.document import Document
from panel.io.state import set_curdoc

from jobdash.domain.access import Role
from jobdash.domain.clock import ManualClock
from jobdash.services.session_registry import SessionInfo, SessionRegistry
from jobdash.services.worker_registry import WorkerInfo
from jobdash.testing.actors import OPERATOR, VIEWER
from jobdash.transport.ingestion import DecodeErrorCount, IngestionStats
from jobdash.transport.kafka_health import (
    ConnectionState,
    KafkaHealthSnapshot,
    PartitionLag,
)
from jobdash.ui.system_status_view import (
    SystemStatusView,
    render_ingestion,
    render_kafka_lag,
    render_sessions,
    render_workers,
)

T0 = 1_764_417_600_000_000_000
S = 1_000_000_000


def worker(**fields: Any) -> WorkerInfo:
    values: dict[str, Any] = {
        "key": "dream/data_reduction/worker-0",
        "service_name": "data_reduction",
        "worker_id": "worker-0",
        "state": "running",
        "last_seen": T0,
        "active_job_count": 3,
        "error": None,
        "stale": False,
        "version": "livedata 25.11.0",
        "started_at": T0 - 7200 * S,
        "source_names": ("mantle_detector", "monitor_cave"),
    }
    values.update(fields)
    return WorkerInfo(**values)


def stats(**fields: Any) -> IngestionStats:
    values: dict[str, Any] = {
        "messages": 12_345,
        "applied": 12_340,
        "decode_errors": 5,
        "route_errors": 0,
        "transport_errors": 0,
        "rate_per_s": 41.25,
        "last_message_at": T0 - S // 2,
        "last_error": None,
        "running": True,
    }
    values.update(fields)
    return IngestionStats(**values)


# --- workers --------------------------------------------------------------------


def test_a_worker_row_shows_state_version_uptime_heartbeat_jobs_and_sources() -> None:
    markup = render_workers([worker()], T0 + 2 * S)

    assert 'data-key="dream/data_reduction/worker-0"' in markup
    assert '<span class="jd-state jd-state-active">running</span>' in markup
    assert '<td class="jd-sys-version jd-mono">livedata 25.11.0</td>' in markup
    assert '<td class="jd-sys-uptime">2 h 00 min</td>' in markup
    assert "under 5 s ago</td>" in markup
    assert '<td class="jd-sys-jobs jd-mono">3</td>' in markup
    assert '<td class="jd-sys-sources">mantle_detector, monitor_cave</td>' in markup


def test_a_silent_worker_says_silent_and_how_long_ago_it_was_heard() -> None:
    markup = render_workers([worker(stale=True, last_seen=T0)], T0 + 95 * S)

    assert '<tr class="jd-sys-worker jd-stale"' in markup
    assert '<span class="jd-state jd-state-stale">silent</span>' in markup
    assert "1 min ago</td>" in markup


def test_a_failing_worker_shows_its_error_escaped() -> None:
    markup = render_workers([worker(error="disk <full>")], T0)

    assert '<span class="jd-state jd-state-error">running</span>' in markup
    assert '<div class="jd-sys-error">disk &lt;full&gt;</div>' in markup


def test_what_a_worker_did_not_report_shows_as_such() -> None:
    markup = render_workers(
        [worker(version=None, started_at=None, active_job_count=None, source_names=())],
        T0,
    )

    assert '<td class="jd-sys-version jd-mono">—</td>' in markup
    assert '<td class="jd-sys-uptime">—</td>' in markup
    assert '<td class="jd-sys-jobs jd-mono">—</td>' in markup
    assert "not reported" in markup


def test_backend_texts_are_escaped_in_worker_rows() -> None:
    markup = render_workers(
        [worker(worker_id="<w>", version='"v"&', source_names=("<s>",))], T0
    )

    assert "<w>" not in markup
    assert "&lt;w&gt;" in markup
    assert "&quot;v&quot;&amp;" in markup
    assert "&lt;s&gt;" in markup


def test_no_worker_heard_yet_is_said_in_words() -> None:
    assert "No service heartbeat yet" in render_workers([], T0)


# --- sessions -------------------------------------------------------------------


def test_sessions_show_user_role_since_and_last_seen_with_this_one_marked() -> None:
    sessions = [
        SessionInfo("aaaaaaaa-1111", "olga", Role.operator, T0, T0 + 30 * S),
        SessionInfo("bbbbbbbb-2222", "<vic>", Role.viewer, T0 + S, T0 + 60 * S),
    ]

    markup = render_sessions(sessions, T0 + 60 * S, own_session="bbbbbbbb-2222")

    first, second = markup.split('<tr class="jd-sys-session')[1:]
    assert "<b>olga</b>" in first
    assert "(this session)" not in first
    assert '<td class="jd-sys-role">operator</td>' in first
    assert "2025-11-29 12:00:00 UTC" in first
    assert "30 s ago" in first
    assert "aaaaaaaa</td>" in first
    assert second.startswith(' jd-sys-this-session">')
    assert "<b>&lt;vic&gt;</b> <span" in second
    assert "(this session)" in second
    assert "under 5 s ago" in second


def test_no_session_is_said_in_words() -> None:
    assert "No dashboard session" in render_sessions([], T0)


# --- ingestion ------------------------------------------------------------------


def test_ingestion_figures_and_decode_errors_by_kind() -> None:
    kinds = [
        DecodeErrorCount("x5f2", 4, "x5f2: buffer too short (0 bytes)", T0 - 12 * S),
        DecodeErrorCount("da00", 1, "da00: <bad>", T0),
    ]

    markup = render_ingestion(stats(), kinds, T0)

    assert '<div class="jd-sys-figure jd-sys-rate"><span class="jd-sys-value">41.2' in (
        markup
    )
    assert '<span class="jd-sys-value">12,345</span>' in markup
    assert "0.5 s ago" in markup
    rows = markup.split('<tr class="jd-sys-decode-kind">')[1:]
    assert len(rows) == 2
    assert '<td class="jd-sys-kind jd-mono">x5f2</td>' in rows[0]
    assert '<td class="jd-sys-count jd-mono">4</td>' in rows[0]
    assert "12 s ago" in rows[0]
    assert "x5f2: buffer too short (0 bytes)" in rows[0]
    assert "da00: &lt;bad&gt;" in rows[1]


def test_no_decode_error_and_no_message_yet_are_said_in_words() -> None:
    markup = render_ingestion(stats(last_message_at=None, decode_errors=0), [], T0)

    assert "No decode errors." in markup
    assert "none yet" in markup


def test_a_stopped_ingestion_and_its_last_error_are_shown() -> None:
    markup = render_ingestion(
        stats(running=False, last_error="KafkaException: <down>"), [], T0
    )

    assert "Ingestion stopped." in markup
    assert "KafkaException: &lt;down&gt;" in markup


# --- Kafka lag ------------------------------------------------------------------


def test_the_lag_is_not_applicable_without_kafka() -> None:
    assert "not applicable (simulated transport)" in render_kafka_lag(None, T0)


def test_the_lag_is_listed_per_partition_with_the_total_and_its_age() -> None:
    snapshot = KafkaHealthSnapshot(
        "localhost:9092",
        ConnectionState.connected,
        T0,
        consumer_lag=1_205,
        partition_lags=(
            PartitionLag("dream_livedata_data", 0, 1_200),
            PartitionLag("dream_livedata_heartbeat", 0, 5),
        ),
        lag_time=T0 - 2 * S,
    )

    markup = render_kafka_lag(snapshot, T0)

    assert "Consumer lag: 1,205 messages in all, as of 2.0 s ago." in markup
    rows = markup.split('<tr class="jd-sys-partition">')[1:]
    assert [row.count("<td") for row in rows] == [3, 3]
    assert "dream_livedata_data</td>" in rows[0]
    assert '<td class="jd-sys-lag jd-mono">1,200</td>' in rows[0]
    assert "dream_livedata_heartbeat</td>" in rows[1]


def test_a_lag_not_reported_yet_is_said_in_words() -> None:
    snapshot = KafkaHealthSnapshot("h:9092", ConnectionState.connecting, T0)

    assert "not reported yet" in render_kafka_lag(snapshot, T0)


# --- the view -------------------------------------------------------------------


class Source:
    """Stands for the services the view reads; counts the reads."""

    def __init__(self, clock: ManualClock) -> None:
        self.registry = SessionRegistry(clock)
        self.workers_list: list[WorkerInfo] = [worker(last_seen=T0)]
        self.reads = 0

    def workers(self) -> Sequence[WorkerInfo]:
        self.reads += 1
        return self.workers_list

    def stats(self) -> IngestionStats:
        return stats(last_message_at=T0)

    def decode_errors(self) -> Sequence[DecodeErrorCount]:
        return ()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def source(clock: ManualClock) -> Source:
    return Source(clock)


def view(source: Source, clock: ManualClock, **options: Any) -> SystemStatusView:
    with set_curdoc(Document()):
        return SystemStatusView(
            clock,
            workers=source.workers,
            sessions=source.registry,
            ingestion_stats=source.stats,
            decode_errors=source.decode_errors,
            **options,
        )


def body(status: SystemStatusView) -> str:
    text: str = status.__panel__().objects[0].object
    return text


def test_a_folded_view_reads_nothing_and_renders_nothing(
    source: Source, clock: ManualClock
) -> None:
    status = view(source, clock, update_every=1)

    for _ in range(5):
        status.refresh()

    assert not status.is_open
    assert source.reads == 0
    assert body(status) == ""


def test_opening_renders_at_once_then_every_update_every_ticks(
    source: Source, clock: ManualClock
) -> None:
    status = view(source, clock, update_every=4)
    source.registry.register("s-1", actor=OPERATOR)

    status.open()

    assert status.is_open
    assert source.reads == 1
    assert "running" in body(status)
    assert f"<b>{OPERATOR.name}</b>" in body(status)
    assert "not applicable" in body(status)
    source.registry.register("s-2", actor=VIEWER)
    for _ in range(3):
        status.refresh()
    assert f"<b>{VIEWER.name}</b>" not in body(status)
    status.refresh()
    assert source.reads == 2
    assert f"<b>{VIEWER.name}</b>" in body(status)


def test_the_own_session_is_marked(source: Source, clock: ManualClock) -> None:
    source.registry.register("mine", actor=OPERATOR)
    status = view(source, clock)
    status.own_session = "mine"

    status.open()

    assert "(this session)" in body(status)


def test_a_view_on_kafka_lists_the_lag_per_partition(
    source: Source, clock: ManualClock
) -> None:
    snapshot = KafkaHealthSnapshot(
        "h:9092",
        ConnectionState.connected,
        T0,
        consumer_lag=2,
        partition_lags=(PartitionLag("dream_livedata_heartbeat", 0, 2),),
        lag_time=T0,
    )
    status = view(source, clock, kafka_health=lambda: snapshot)

    status.open()

    assert '<tr class="jd-sys-partition">' in body(status)
    assert "not applicable" not in body(status)
