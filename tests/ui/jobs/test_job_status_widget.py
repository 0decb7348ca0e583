from __future__ import annotations

import html
import json
import math
import re
import uuid

import pytest
from bokeh.document import Document
from bokeh.document.events import ColumnDataChangedEvent, ColumnsPatchedEvent
from bokeh.models.widgets.tables import HTMLTemplateFormatter

from jobdash.domain import (
    DataResult,
    JobId,
    JobState,
    JobStatus,
    ManualClock,
    WorkflowId,
)
from jobdash.domain.access import AccessPolicy, Actor, Role
from jobdash.domain.commands import JobAction, JobCommand
from jobdash.services.action_guard import ActionGuard
from jobdash.services.audit_log import AuditLog
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.data_service import DataService
from jobdash.services.job_controller import JobController
from jobdash.services.job_service import JobService
from jobdash.testing.actors import OPERATOR
from jobdash.transport.in_memory_sink import InMemoryCommandSink
from jobdash.ui.jobs import job_status_widget as jsw
from jobdash.ui.jobs import job_table_rows
from jobdash.ui.jobs.job_status_widget import JobStatusWidget, format_utc
from jobdash.ui.jobs.job_table_rows import age_arrays

WORKFLOW = WorkflowId("dream", "detector_view", 1)
OTHER_WORKFLOW = WorkflowId("dream", "monitor_view", 2)
SECOND = 1_000_000_000


def job(source: str = "mantle_detector", number: int = 1) -> JobId:
    return JobId(source, uuid.UUID(int=number))


class Backend:
    """Sends heartbeats with increasing timestamps and a fixed start time."""

    def __init__(self, service: JobService, clock: ManualClock) -> None:
        self.service = service
        self.clock = clock
        self.start = clock.now_ns()
        self.t = 0

    def beat(
        self,
        job_id: JobId,
        state: JobState = JobState.active,
        *,
        workflow: WorkflowId = WORKFLOW,
        error: str | None = None,
        warning: str | None = None,
    ) -> None:
        self.t += 1
        self.service.status_updated(
            JobStatus(
                job_id,
                workflow,
                state,
                error_message=error,
                warning_message=warning,
                start_time=self.start,
                timestamp=self.t,
            )
        )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def data(clock: ManualClock) -> DataService:
    return DataService(clock)


@pytest.fixture
def service(clock: ManualClock, data: DataService) -> JobService:
    return JobService(clock, stale_after=6.0, data_service=data)


@pytest.fixture
def sink() -> InMemoryCommandSink:
    return InMemoryCommandSink()


@pytest.fixture
def backend(service: JobService, clock: ManualClock) -> Backend:
    return Backend(service, clock)


@pytest.fixture
def widget(service, sink, clock) -> JobStatusWidget:
    return JobStatusWidget(
        service, JobController(CommandDispatcher(sink)), clock, actor=OPERATOR
    )


def rows(widget: JobStatusWidget) -> dict[str, dict[str, object]]:
    return widget.table.value.to_dict("index")


def visible(widget: JobStatusWidget) -> list[str]:
    return list(widget.table.current_view.index)


class PatchSpy:
    """Records patches (``patch``, ``patch_page``) and value replacements."""

    def __init__(
        self, widget: JobStatusWidget, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.patches: list[dict[str, list[tuple[str, object]]]] = []
        self.values = 0
        table = widget.table
        original = table.patch

        def patch(value, as_index=True):
            self.patches.append(value)
            return original(value, as_index=as_index)

        monkeypatch.setattr(table, "patch", patch)
        page_patch = table.patch_page

        def patch_page(value, page_keys):
            self.patches.append(value)
            return page_patch(value, page_keys)

        monkeypatch.setattr(table, "patch_page", patch_page)
        table.param.watch(self._value_set, "value")

    def _value_set(self, event) -> None:
        self.values += 1

    def cells(self) -> set[tuple[str, str]]:
        return {
            (column, key)
            for p in self.patches
            for column, v in p.items()
            for key, _ in v
        }


def test_one_row_per_job_indexed_by_job_id_text(widget, backend):
    backend.beat(job("a", 1))
    backend.beat(job("b", 2), workflow=OTHER_WORKFLOW)
    backend.beat(job("a", 3))  # same source, another job number: another row
    widget.refresh()
    table = rows(widget)
    assert list(table) == [str(job("a", 1)), str(job("b", 2)), str(job("a", 3))]
    row = table[str(job("b", 2))]
    assert row["state"] == "active"
    assert row["source"] == "b"
    assert row["workflow"] == "monitor_view"
    assert row["workflow_id"] == "dream/monitor_view/2"
    assert row["job"] == uuid.UUID(int=2).hex[:8]
    assert row["job_number"] == str(uuid.UUID(int=2))
    assert row["start"] == format_utc(backend.start)[5:16]  # MM-DD HH:MM
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d", row["start"])
    assert row["heartbeat"] == 0
    assert math.isnan(row["data"])
    assert row["message"] == ""


def test_message_column_shows_the_first_line_of_the_error_before_the_warning(
    widget, backend
):
    backend.beat(job(), JobState.error, error="bank failed\n  line 2", warning="slow")
    widget.refresh()
    assert rows(widget)[str(job())]["message"] == "bank failed …"


def test_changed_row_is_patched_not_replaced(widget, backend, monkeypatch):
    backend.beat(job("a"))
    backend.beat(job("b", 2))
    widget.refresh()
    spy = PatchSpy(widget, monkeypatch)
    frame = widget.table.value

    backend.beat(job("b", 2), JobState.error, error="boom")
    widget.refresh()

    assert spy.values == 0
    assert widget.table.value is frame
    assert spy.cells() == {
        ("state", str(job("b", 2))),
        ("state_key", str(job("b", 2))),
        ("state_value", str(job("b", 2))),
        ("message", str(job("b", 2))),
    }
    assert rows(widget)[str(job("b", 2))]["state"] == "error"
    assert rows(widget)[str(job("b", 2))]["message"] == "boom"


def test_heartbeat_that_changes_nothing_visible_sends_nothing(
    widget, backend, monkeypatch
):
    backend.beat(job())
    widget.refresh()
    spy = PatchSpy(widget, monkeypatch)
    backend.beat(job())  # same state; only the receipt time moved
    widget.refresh()
    assert spy.patches == []
    assert spy.values == 0


def test_refresh_without_a_new_version_does_not_read_a_snapshot(
    widget, backend, service, clock, monkeypatch
):
    backend.beat(job())
    widget.refresh()
    calls = []
    original = service.snapshot
    monkeypatch.setattr(service, "snapshot", lambda: calls.append(1) or original())
    clock.advance(0.5)
    widget.refresh()
    widget.refresh()
    assert calls == []


def test_ages_are_recomputed_at_most_once_a_second(widget, backend, clock, monkeypatch):
    backend.beat(job())
    widget.refresh()
    clock.advance(5.5)
    spy = PatchSpy(widget, monkeypatch)
    calls = []
    monkeypatch.setattr(
        job_table_rows, "age_arrays", lambda *a: calls.append(1) or age_arrays(*a)
    )
    widget.refresh()
    assert spy.patches == [{"heartbeat": [(str(job()), 5)]}]
    clock.advance(0.5)
    widget.refresh()
    assert calls == [1]
    clock.advance(0.6)
    widget.refresh()
    assert calls == [1, 1]


def test_ages_are_coarse_so_a_healthy_row_never_changes(
    widget, backend, clock, monkeypatch
):
    backend.beat(job())
    widget.refresh()
    spy = PatchSpy(widget, monkeypatch)
    for _ in range(4):
        clock.advance(1.0)
        widget.refresh()
    assert spy.patches == []
    assert rows(widget)[str(job())]["heartbeat"] == 0  # shown as "< 5 s"
    clock.advance(1.0)
    widget.refresh()
    assert spy.patches == [{"heartbeat": [(str(job()), 5)]}]
    clock.advance(4.0)
    widget.refresh()
    # 9 s is still "5 s" (the row turned stale meanwhile: that is patched).
    assert [p for p in spy.patches if "heartbeat" in p] == [
        {"heartbeat": [(str(job()), 5)]}
    ]


def test_age_cells_read_fresh_then_seconds_then_minutes():
    template = jsw._TEMPLATES["heartbeat"]
    assert "&lt; 5 s" in template
    assert "min" in template


def test_data_age_shows_the_last_result_and_flags_active_jobs_without_data(
    widget, backend, data, clock
):
    backend.beat(job("quiet", 1))
    backend.beat(job("busy", 2))
    backend.beat(job("done", 3), JobState.stopped)
    data.result_received(DataResult(job("busy", 2), WORKFLOW, "histogram", 1))
    clock.advance(29)
    for j in (job("quiet", 1), job("busy", 2), job("done", 3)):
        backend.beat(
            j, JobState.stopped if j.source_name == "done" else JobState.active
        )
    widget.refresh()
    table = rows(widget)
    assert math.isnan(table[str(job("quiet", 1))]["data"])
    assert table[str(job("busy", 2))]["data"] == 25  # 29 s, in 5 s steps
    assert not any(row["no_data"] for row in table.values())

    clock.advance(2)
    widget.refresh()
    table = rows(widget)
    assert table[str(job("quiet", 1))]["no_data"]  # active, nothing for 31 s
    assert table[str(job("busy", 2))]["no_data"]  # last result 31 s ago
    assert not table[str(job("done", 3))]["no_data"]  # stopped: not an alarm


def test_stale_job_is_marked_in_text_and_class(widget, backend, service, clock):
    backend.beat(job())
    widget.refresh()
    clock.advance(7)
    service.tick()
    widget.refresh()
    row = rows(widget)[str(job())]
    assert row["state"] == "active · stale"
    assert row["state_key"] == "stale"
    assert row["stale"]
    template = widget.table.formatters["state"].template
    assert "jd-state-<%- state_key %>" in template


def test_state_filter_shows_only_the_chosen_states_and_stale_jobs(
    widget, backend, service, clock
):
    backend.beat(job("a", 1))
    backend.beat(job("b", 2), JobState.error, error="x")
    backend.beat(job("c", 3), JobState.stopped)
    widget.refresh()
    widget.state_filter.value = ["error", "stopped"]
    assert visible(widget) == [str(job("b", 2)), str(job("c", 3))]

    clock.advance(7)
    backend.beat(job("b", 2), JobState.error, error="x")
    backend.beat(job("c", 3), JobState.stopped)
    service.tick()  # a is now stale
    widget.refresh()
    widget.state_filter.value = ["stale"]
    assert visible(widget) == [str(job("a", 1))]

    widget.state_filter.value = []
    assert len(visible(widget)) == 3


def test_text_filter_matches_source_workflow_and_the_full_message(widget, backend):
    backend.beat(job("mantle_detector", 1))
    backend.beat(job("endcap", 2), workflow=OTHER_WORKFLOW)
    backend.beat(job("monitor1", 3), JobState.error, error="Traceback\nDiskFullError")
    widget.refresh()
    widget.text_filter.value_input = "MANTLE"
    assert visible(widget) == [str(job("mantle_detector", 1))]
    widget.text_filter.value_input = "monitor_view"
    assert visible(widget) == [str(job("endcap", 2))]
    widget.text_filter.value_input = "diskfull"  # on the second line
    assert visible(widget) == [str(job("monitor1", 3))]
    widget.text_filter.value_input = ""
    assert len(visible(widget)) == 3


def test_filter_keeps_applying_to_rows_that_arrive_later(widget, backend):
    backend.beat(job("a", 1), JobState.error, error="x")
    widget.refresh()
    widget.state_filter.value = ["error"]
    backend.beat(job("b", 2))
    backend.beat(job("c", 3), JobState.error, error="y")
    widget.refresh()
    assert visible(widget) == [str(job("a", 1)), str(job("c", 3))]


def test_stop_sends_a_job_command_for_each_selected_running_job(widget, backend, sink):
    backend.beat(job("a", 1))
    backend.beat(job("b", 2), workflow=OTHER_WORKFLOW)
    backend.beat(job("c", 3), JobState.stopped)
    widget.refresh()
    widget.select([job("a", 1), job("b", 2), job("c", 3)])
    stop = widget.buttons["stop"]
    assert not stop.disabled
    assert stop.label == "Stop (2)"
    stop.clicks += 1
    sent = sink.sent
    assert all(isinstance(c, JobCommand) and c.action is JobAction.stop for c in sent)
    assert [(c.job_id.to_domain(), c.workflow_id.to_domain()) for c in sent] == [
        (job("a", 1), WORKFLOW),
        (job("b", 2), OTHER_WORKFLOW),
    ]
    assert "Stop sent for 2 jobs" in widget.feedback.object


def test_reset_sends_a_reset_command(widget, backend, sink):
    backend.beat(job())
    widget.refresh()
    widget.select([job()])
    widget.buttons["reset"].clicks += 1
    (command,) = sink.sent
    assert command.action is JobAction.reset
    assert command.job_id.to_domain() == job()


def test_actions_are_disabled_without_a_selection(widget, backend):
    backend.beat(job())
    widget.refresh()
    assert all(button.disabled for button in widget.buttons.values())


def test_remove_is_only_offered_for_stopped_jobs(widget, backend, service):
    backend.beat(job())
    widget.refresh()
    widget.select([job()])
    assert widget.buttons["remove"].disabled
    widget.buttons["remove"].clicks += 1  # a forged click changes nothing
    widget.refresh()
    assert str(job()) in rows(widget)
    assert not service.is_removed(job())


def test_remove_does_not_trust_a_stale_view_of_the_state(widget, backend, service):
    backend.beat(job(), JobState.stopped)
    widget.refresh()
    widget.select([job()])
    backend.beat(job(), JobState.active)  # restarted; the table has not refreshed
    widget.buttons["remove"].clicks += 1
    assert not service.is_removed(job())


def test_removed_stopped_job_does_not_come_back_on_a_late_heartbeat(
    widget, backend, service
):
    backend.beat(job("a", 1), JobState.stopped)
    backend.beat(job("b", 2))
    widget.refresh()
    widget.select([job("a", 1)])
    remove = widget.buttons["remove"]
    assert not remove.disabled
    assert remove.label == "Remove (1)"
    remove.clicks += 1
    assert list(rows(widget)) == [str(job("b", 2))]
    assert widget.table.selection == []

    service.status_updated(
        JobStatus(job("a", 1), WORKFLOW, JobState.stopped, timestamp=backend.t + 10)
    )
    widget.refresh()
    assert list(rows(widget)) == [str(job("b", 2))]


def test_read_only_hides_and_refuses_every_action(sink, clock, data):
    policy = AccessPolicy(read_only=True)
    service = JobService(
        clock, stale_after=6.0, data_service=data, guard=ActionGuard(policy)
    )
    backend = Backend(service, clock)
    widget = JobStatusWidget(
        service,
        JobController(CommandDispatcher(sink, policy=policy)),
        clock,
        actor=policy.actor_for(None),  # read-only: every session is a viewer
    )
    backend.beat(job("a", 1))
    backend.beat(job("b", 2), JobState.stopped)
    widget.refresh()
    widget.select([job("a", 1), job("b", 2)])
    for button in widget.buttons.values():
        assert not button.visible
        assert button.disabled
        button.clicks += 1  # forged events from a browser
    assert sink.sent == []
    assert not service.is_removed(job("b", 2))
    assert "read-only" in widget.feedback.object


def test_viewer_sees_no_actions_and_forged_clicks_are_refused_and_audited(
    service, sink, clock, backend, tmp_path
):
    audit = AuditLog(tmp_path / "audit.jsonl", clock)
    alice = Actor("alice", Role.viewer)
    widget = JobStatusWidget(
        service, JobController(CommandDispatcher(sink, audit=audit)), clock, actor=alice
    )
    backend.beat(job("a", 1))
    backend.beat(job("b", 2), JobState.stopped)
    widget.refresh()
    widget.select([job("a", 1), job("b", 2)])
    assert not any(button.visible for button in widget.buttons.values())
    widget.buttons["stop"].clicks += 1
    assert sink.sent == []
    assert "viewer 'alice' may not stop job" in html.unescape(widget.feedback.object)
    record = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[0])
    assert (record["user"], record["action"], record["outcome"]) == (
        "alice",
        "stop_job",
        "refused",
    )
    widget.buttons["remove"].clicks += 1
    assert not service.is_removed(job("b", 2))
    assert "viewer 'alice' may not remove jobs" in html.unescape(widget.feedback.object)


def test_operator_actions_are_sent_in_the_sessions_name(
    service, sink, clock, backend, tmp_path
):
    audit = AuditLog(tmp_path / "audit.jsonl", clock)
    bob = Actor("bob", Role.operator)
    widget = JobStatusWidget(
        service, JobController(CommandDispatcher(sink, audit=audit)), clock, actor=bob
    )
    backend.beat(job())
    widget.refresh()
    widget.select([job()])
    widget.buttons["stop"].clicks += 1
    assert len(sink.sent) == 1
    (line,) = (tmp_path / "audit.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert (record["user"], record["outcome"]) == ("bob", "sent")


def test_controller_refusal_is_reported_even_if_the_widget_was_not_told(
    service, sink, clock, backend
):
    widget = JobStatusWidget(
        service,
        JobController(CommandDispatcher(sink, policy=AccessPolicy(read_only=True))),
        clock,
        actor=OPERATOR,
    )
    backend.beat(job())
    widget.refresh()
    widget.select([job()])
    widget.buttons["stop"].clicks += 1
    assert sink.sent == []
    assert "read-only" in widget.feedback.object


def test_untrusted_text_is_escaped_everywhere(widget, backend):
    evil = '<img src=x onerror="alert(1)">'
    backend.beat(job(evil, 1), JobState.error, error=f"{evil}\n<script>x()</script>")
    widget.refresh()
    formatters = widget.table.formatters
    for column in ("message", "start"):
        assert formatters[column] == {"type": "plaintext"}
    for formatter in formatters.values():
        if isinstance(formatter, HTMLTemplateFormatter):
            # Only escaping interpolation (<%- %>), never raw <%= %>; backend
            # text (source and workflow names) reaches a template only so.
            assert "<%=" not in formatter.template
            assert not re.search(r"<%-\s*(source|message)", formatter.template)
    for column in ("source", "workflow"):
        assert isinstance(formatters[column], HTMLTemplateFormatter)
    widget.select([job(evil, 1)])
    detail = widget.detail.object
    assert "<img" not in detail
    assert "<script" not in detail
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in detail
    assert "&lt;script&gt;x()&lt;/script&gt;" in detail


def test_detail_pane_shows_the_full_messages_of_the_selected_job(widget, backend):
    backend.beat(job(), JobState.error, error="line one\nline two", warning="careful")
    widget.refresh()
    assert "Select a job" in widget.detail.object
    widget.select([job()])
    detail = widget.detail.object
    assert "line one\nline two" in detail
    assert "careful" in detail
    assert str(job()) in detail


def test_detail_pane_follows_a_changed_message_of_the_selected_job(widget, backend):
    backend.beat(job(), JobState.warning, warning="first")
    widget.refresh()
    widget.select([job()])
    backend.beat(job(), JobState.warning, warning="second")
    widget.refresh()
    assert "second" in widget.detail.object


def test_selection_survives_rows_being_added(widget, backend):
    backend.beat(job("a", 1))
    backend.beat(job("b", 2))
    widget.refresh()
    widget.select([job("b", 2)])
    backend.beat(job("c", 3))
    widget.refresh()
    value = widget.table.value
    assert [value.index[i] for i in widget.table.selection] == [str(job("b", 2))]
    assert widget.buttons["stop"].label == "Stop (1)"


def test_many_changed_rows_at_once_replace_the_value(
    service, sink, clock, backend, monkeypatch
):
    widget = JobStatusWidget(
        service,
        JobController(CommandDispatcher(sink)),
        clock,
        actor=OPERATOR,
        page_size=5,
    )
    for number in range(10):
        backend.beat(job(f"s{number}", number))
    widget.refresh()
    spy = PatchSpy(widget, monkeypatch)
    for number in range(10):
        backend.beat(job(f"s{number}", number), JobState.error, error="backend died")
    widget.refresh()
    assert spy.patches == []
    assert spy.values == 1
    assert {row["state"] for row in rows(widget).values()} == {"error"}


def test_large_table_sends_only_one_page_to_the_browser(
    service, sink, clock, backend, monkeypatch
):
    widget = JobStatusWidget(
        service,
        JobController(CommandDispatcher(sink)),
        clock,
        actor=OPERATOR,
        page_size=50,
    )
    for number in range(1200):
        backend.beat(job(f"s{number}", number))
    widget.refresh()
    document = Document()
    root = widget.__panel__().get_root(document)
    document.add_root(root)
    (model,) = root.select({"css_classes": ["jd-job-table"]})
    assert len(model.source.data["source"]) == 50
    assert model.max_page == 24

    events: list[object] = []
    document.on_change(events.append)
    backend.beat(job("s3", 3), JobState.error, error="boom")
    widget.refresh()
    patched = [e for e in events if isinstance(e, ColumnsPatchedEvent)]
    assert patched
    assert not [e for e in events if isinstance(e, ColumnDataChangedEvent)]
    assert len(model.source.data["source"]) == 50


# Panel 1.9's remote sort calls DataFrame.drop(inplace=True), which pandas 3.1
# deprecates; not ours to fix.
@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_with_a_sort_set_ages_patch_the_page_without_resending_it(
    service, sink, clock, backend
):
    widget = JobStatusWidget(
        service,
        JobController(CommandDispatcher(sink)),
        clock,
        actor=OPERATOR,
        page_size=5,
    )
    for number in range(12):
        backend.beat(job(f"s{number:02d}", number))
    widget.refresh()
    document = Document()
    root = widget.__panel__().get_root(document)
    document.add_root(root)
    (model,) = root.select({"css_classes": ["jd-job-table"]})
    widget.table.sorters = [{"field": "source", "dir": "desc"}]
    assert model.source.data["source"].tolist() == [
        f"s{n:02d}" for n in (11, 10, 9, 8, 7)
    ]
    events: list[object] = []
    document.on_change(events.append)
    clock.advance(5.0)
    backend.beat(job("s09", 9))  # s09 stays fresh; the others age
    widget.refresh()
    assert not [e for e in events if isinstance(e, ColumnDataChangedEvent)]
    (patched,) = [e for e in events if isinstance(e, ColumnsPatchedEvent)]
    assert sorted(patched.patches["heartbeat"]) == [(0, 5), (1, 5), (3, 5), (4, 5)]
    assert model.source.data["heartbeat"].tolist() == [5, 5, 0, 5, 5]
    assert widget.table.value.loc[str(job("s09", 9)), "heartbeat"] == 0


def test_page_is_clamped_when_rows_are_removed(service, sink, clock, backend):
    widget = JobStatusWidget(
        service,
        JobController(CommandDispatcher(sink)),
        clock,
        actor=OPERATOR,
        page_size=2,
    )
    for number in range(5):
        backend.beat(job(f"s{number}", number), JobState.stopped)
    widget.refresh()
    widget.table.page = 3
    for number in range(2, 5):
        service.remove_job(job(f"s{number}", number), actor=OPERATOR)
    widget.refresh()
    assert widget.table.page == 1


def test_root_and_table_carry_the_stable_css_classes(widget):
    root = widget.__panel__()
    assert "jd-job-status-widget" in root.css_classes
    assert "jd-job-table" in widget.table.css_classes
    assert "jd-stop" in widget.buttons["stop"].css_classes
    assert "jd-reset" in widget.buttons["reset"].css_classes


# --- pause and resume, where a backend worker accepts them -----------------------


class Support:
    """The workers' support (a ``WorkerRegistry`` stand-in): ``sources``
    accept pause and resume."""

    def __init__(self, *sources: str) -> None:
        self.sources = frozenset(sources)

    def sources_supporting(self, action: str) -> frozenset[str]:
        return self.sources if action in ("pause", "resume") else frozenset()


def pausing_widget(service, sink, clock, support, actor=OPERATOR, **options):
    dispatcher = CommandDispatcher(sink, support=support, **options)
    return JobStatusWidget(
        service,
        JobController(dispatcher),
        clock,
        actor=actor,
        action_support=support.sources_supporting,
    )


def test_pause_is_enabled_for_selected_active_jobs_a_worker_accepts_it_for(
    service, sink, clock, backend
):
    widget = pausing_widget(service, sink, clock, Support("a", "c"))
    backend.beat(job("a", 1))
    backend.beat(job("b", 2))  # no worker accepts pause for b
    backend.beat(job("c", 3), JobState.paused)
    widget.refresh()
    pause, resume = widget.buttons["pause"], widget.buttons["resume"]
    assert (pause.visible, resume.visible) == (True, True)
    assert (pause.disabled, resume.disabled) == (True, True)  # nothing selected
    widget.select([job("a", 1), job("b", 2), job("c", 3)])
    assert (pause.label, pause.disabled) == ("Pause (1)", False)
    assert (resume.label, resume.disabled) == ("Resume (1)", False)
    pause.clicks += 1
    (command,) = sink.sent
    assert command.action is JobAction.pause
    assert (command.job_id.to_domain(), command.workflow_id.to_domain()) == (
        job("a", 1),
        WORKFLOW,
    )
    assert "Pause sent for 1 job" in widget.feedback.object


def test_resume_sends_resume_for_the_selected_paused_jobs(
    service, sink, clock, backend
):
    widget = pausing_widget(service, sink, clock, Support("a", "b"))
    backend.beat(job("a", 1), JobState.paused)
    backend.beat(job("b", 2), JobState.paused, workflow=OTHER_WORKFLOW)
    widget.refresh()
    widget.select([job("a", 1), job("b", 2)])
    assert widget.buttons["pause"].disabled  # nothing runs
    widget.buttons["resume"].clicks += 1
    assert [(c.action, c.job_id.to_domain()) for c in sink.sent] == [
        (JobAction.resume, job("a", 1)),
        (JobAction.resume, job("b", 2)),
    ]
    assert "Resume sent for 2 jobs" in widget.feedback.object


def test_the_buttons_follow_a_job_that_turns_paused(service, sink, clock, backend):
    widget = pausing_widget(service, sink, clock, Support("a"))
    backend.beat(job("a", 1))
    widget.refresh()
    widget.select([job("a", 1)])
    assert not widget.buttons["pause"].disabled
    backend.beat(job("a", 1), JobState.paused)
    widget.refresh()
    assert widget.buttons["pause"].disabled
    assert not widget.buttons["resume"].disabled
    assert rows(widget)[str(job("a", 1))]["state_key"] == "paused"


def test_without_worker_support_there_are_no_pause_buttons(widget, backend):
    backend.beat(job())
    widget.refresh()
    widget.select([job()])
    assert not widget.buttons["pause"].visible
    assert not widget.buttons["resume"].visible


def test_a_viewers_forged_pause_is_refused_and_audited(
    service, sink, clock, backend, tmp_path
):
    audit = AuditLog(tmp_path / "audit.jsonl", clock)
    alice = Actor("alice", Role.viewer)
    widget = pausing_widget(service, sink, clock, Support("a"), alice, audit=audit)
    backend.beat(job("a", 1))
    widget.refresh()
    widget.select([job("a", 1)])
    assert not widget.buttons["pause"].visible
    widget.buttons["pause"].clicks += 1  # forged
    assert sink.sent == []
    assert "viewer 'alice' may not pause jobs" in html.unescape(widget.feedback.object)
    record = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[0])
    assert (record["action"], record["outcome"]) == ("pause_job", "refused")


def test_a_pause_the_workers_stopped_accepting_is_refused_with_the_reason(
    service, sink, clock, backend
):
    shown = Support("a")
    widget = JobStatusWidget(
        service,
        JobController(CommandDispatcher(sink, support=Support())),
        clock,
        actor=OPERATOR,
        # What the page saw before the worker went away.
        action_support=shown.sources_supporting,
    )
    backend.beat(job("a", 1))
    widget.refresh()
    widget.select([job("a", 1)])
    widget.buttons["pause"].clicks += 1
    assert sink.sent == []
    assert "Pause refused: Pause is not supported" in html.unescape(
        widget.feedback.object
    )
