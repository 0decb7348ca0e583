# mypy: untyped-calls-exclude=panel
"""The dashboard page of one browser session, over the shared services.

Layout::

    header bar:  jobdash · DREAM            [transport] [ingestion] [UTC clock]
    ┌ Jobs ─────────────────┐ ┌ Workflows ───────────────┐   jd-app: side by
    │ JobStatusWidget       │ │ WorkflowWidget           │   side, stacked
    └───────────────────────┘ └──────────────────────────┘   when narrow
    ┌ Timeline ─────────────┐ ┌ Notifications ───────────┐   jd-app-lower
    └───────────────────────┘ └──────────────────────────┘
    ▸ Simulator (simulated transport only, collapsed)
    ▸ System status (collapsed)                              jd-app-status

``jd-app`` (the two main views) and ``jd-app-lower`` (timeline, log,
simulator) are two separate Bokeh roots of the template, on purpose: BokehJS
lays out a whole root again whenever any view in it changes size or
visibility (a card's error box appearing), and the timeline figure's layout
measures every one of its axis labels. In one root, each such change cost the
browser ~0.1-0.3 s; in two, the figure is laid out only when it changes.

Every view is built per session; none holds data of its own. What is the
same for every session is computed once and shared: the job table's rows
(:class:`~jobdash.ui.jobs.job_table_rows.JobTableRows`, one of the
:class:`~jobdash.ui.dashboard_services.DashboardServices`). One
:class:`~jobdash.ui.session_refresh.SessionRefresher` per session refreshes
them all. The shared stylesheet ``assets/css/jobdash.css`` is handed to Panel
as a URL in ``css_files``, so that every component's shadow root links it
while the file is sent once (:mod:`jobdash.ui.stylesheets`; as ``raw_css``
text it travelled once per component), and ``assets/css/jobdash-page.css``
styles the template's own chrome.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import panel as pn

from jobdash.assets import asset
from jobdash.ui import lazy_model_refs
from jobdash.ui.dashboard_services import DashboardServices
from jobdash.ui.header import PageHeader
from jobdash.ui.jobs.job_status_widget import JobStatusWidget
from jobdash.ui.jobs.tabulator_row_updates import TabulatorRowUpdates
from jobdash.ui.notification_log_view import NotificationLogView
from jobdash.ui.session_presence import SessionPresence
from jobdash.ui.session_refresh import Refreshable, SessionRefresher, wake_on_change
from jobdash.ui.simulator_panel import SimulatorPanel
from jobdash.ui.stylesheets import stylesheet_url
from jobdash.ui.system_status_view import SystemStatusView
from jobdash.ui.timeline import TimelineView
from jobdash.ui.toast_area import ToastArea
from jobdash.ui.workflows.workflow_widget import WorkflowWidget

__all__ = ["DashboardPage", "build_page", "page_stylesheets"]

#: Panel extensions whose JavaScript the views need (the job table is a
#: Tabulator); Panel only ships the resources of extensions named here.
_EXTENSIONS = ("tabulator",)

#: Header bar colour: a calm slate, not an alarm colour (the state pills are
#: the only saturated colours on the page).
_HEADER_BACKGROUND = "#24313f"


#: The stylesheet of every component (a file in ``assets/css``, linked by URL).
COMPONENT_STYLESHEET = "jobdash.css"


@cache
def page_stylesheets() -> tuple[str, str]:
    """(component CSS, page chrome CSS), read once from ``assets/css``."""
    return (
        asset("css", COMPONENT_STYLESHEET).read_text(encoding="utf-8"),
        asset("css", "jobdash-page.css").read_text(encoding="utf-8"),
    )


def _section(title: str, body: Any, *, kind: str) -> pn.Column:
    heading = pn.pane.HTML(
        f"<h2>{title}</h2>", css_classes=["jd-section-title"], margin=(0, 0, 6, 0)
    )
    return pn.Column(
        heading,
        body,
        css_classes=["jd-section", f"jd-section-{kind}"],
        sizing_mode="stretch_width",
        margin=(0, 0, 10, 0),
    )


class DashboardPage:
    """Every view of one session, its refresher, and the template showing them.

    Build it while the session's document is current (Panel does so when it
    runs the page factory); :meth:`start` then schedules the refresher on it.

    Parameters
    ----------
    services
        The process-wide services (the composition root's ``Services``).
    """

    def __init__(self, services: DashboardServices) -> None:
        _, page_css = page_stylesheets()
        pn.extension(
            *_EXTENSIONS,
            # A URL: one linked file for every shadow root (raw_css would
            # put a copy of the text into every component of the document).
            css_files=[stylesheet_url(COMPONENT_STYLESHEET)],
            global_css=[page_css],
            notifications=True,
        )
        settings = services.settings
        policy = services.policy
        clock = services.clock
        refresh_hz = max(1, round(1 / settings.refresh_interval))

        kafka_health = services.kafka_health
        self.header = PageHeader(
            clock,
            services.ingestion.stats,
            stale_after=settings.effective_stale_after,
            workers=services.worker_registry.workers,
            kafka_health=kafka_health.snapshot if kafka_health is not None else None,
            read_only=policy.read_only,
            update_every=refresh_hz,
        )
        # Who this session acts as: the web server's user, mapped by the
        # access policy (without authentication, the local operator). The
        # policy is the one switch: read-only, it makes everyone a viewer,
        # and the views enable their actions for operators only.
        self.actor = policy.actor_for(pn.state.user)
        self.jobs: JobStatusWidget | None = None
        if services.job_service is not None:
            self.jobs = JobStatusWidget(
                services.job_service,
                services.job_controller,
                clock,
                actor=self.actor,
                table_rows=services.job_table_rows,
                action_support=services.worker_registry.sources_supporting,
            )
        self.workflows = WorkflowWidget(
            services.job_orchestrator,
            clock,
            actor=self.actor,
            data_service=services.data_service,
            notifications=services.notifications,
            action_support=services.worker_registry.sources_supporting,
        )
        self.timeline = TimelineView(services.status_history, clock)
        # Not pn.state.notifications (kept for Panel's connection messages):
        # each of its toasts adds a Bokeh model, which costs the server a
        # recompute of the session's model graph (see ToastArea).
        self.toasts = ToastArea()
        self.notification_log = NotificationLogView(
            services.notifications, toasts=self.toasts
        )
        self.simulator: SimulatorPanel | None = None
        if services.simulator is not None:
            self.simulator = SimulatorPanel(
                services.simulator,
                services.catalogue,
                services.notifications,
                clock=services.manual_clock,
                update_every=refresh_hz,
            )
        # This session in the registry of open sessions (System status).
        self.presence = SessionPresence(
            services.sessions, self.actor, update_every=refresh_hz
        )
        self.system_status = SystemStatusView(
            clock,
            workers=services.worker_registry.workers,
            sessions=services.sessions,
            ingestion_stats=services.ingestion.stats,
            decode_errors=services.ingestion.decode_errors_by_kind,
            kafka_health=kafka_health.snapshot if kafka_health is not None else None,
            update_every=refresh_hz,
        )

        views: list[Refreshable] = [self.header]
        if self.jobs is not None:
            views.append(self.jobs)
        views += [self.workflows, self.timeline, self.notification_log]
        if self.simulator is not None:
            views.append(self.simulator)
        views += [self.presence, self.system_status]
        self.refresher = SessionRefresher(views, settings.refresh_interval)
        # A workflow's change (its jobs' states: the table's too) or a new
        # notification wakes every session at once instead of at its next tick.
        wake_on_change(services.job_orchestrator, services.notifications)

        self.root, self.lower = self._layout()
        # Its own template root (see the module docstring): its text changes
        # every second while it is open, which must not lay out the others.
        self.status_root = pn.Column(
            self.system_status,
            css_classes=["jd-app-status"],
            sizing_mode="stretch_width",
        )
        self.template = pn.template.BootstrapTemplate(
            title=f"jobdash · {settings.instrument.upper()}",
            header=[self.header],
            main=[self.root, self.lower, self.status_root],
            header_background=_HEADER_BACKGROUND,
            header_color="#ffffff",
            collapsed_sidebar=True,
        )

    def _layout(self) -> tuple[pn.Column, pn.Column]:
        top = [_section("Workflows", self.workflows, kind="workflows")]
        if self.jobs is not None:
            top.insert(0, _section("Jobs", self.jobs, kind="jobs"))
        main = pn.Column(
            pn.FlexBox(
                *top,
                css_classes=["jd-views", "jd-views-top"],
                flex_wrap="wrap",
                gap="10px",
                sizing_mode="stretch_width",
            ),
            css_classes=["jd-app"],
            sizing_mode="stretch_width",
        )
        lower: list[Any] = [
            pn.FlexBox(
                _section("Timeline", self.timeline, kind="timeline"),
                _section("Notifications", self.notification_log, kind="notifications"),
                css_classes=["jd-views", "jd-views-bottom"],
                flex_wrap="wrap",
                gap="10px",
                sizing_mode="stretch_width",
            )
        ]
        if self.simulator is not None:
            lower.append(self.simulator)
        lower.append(self.toasts)
        if self.jobs is not None:
            # Patches of the job table update its changed rows, not the page.
            lower.append(TabulatorRowUpdates())
        return main, pn.Column(
            *lower, css_classes=["jd-app-lower"], sizing_mode="stretch_width"
        )

    @property
    def views(self) -> tuple[Refreshable, ...]:
        """What the refresher refreshes, in order."""
        return self.refresher.widgets

    def start(self) -> None:
        """Start this session's refresher and register the session.

        Both end with the session (its destroy hook).
        """
        self.refresher.start()
        self.presence.start()
        self.system_status.own_session = self.presence.session_id


def build_page(services: DashboardServices) -> pn.template.BootstrapTemplate:
    """The template for one browser session, its refresher started.

    Call from a Panel page factory (``panel serve app.py``, ``pn.serve``):
    inside a session the refresher is scheduled on the session's IOLoop and
    stopped with it. Outside one (a script, a test) nothing is scheduled.
    """
    lazy_model_refs.install()  # every session's patches: see that module
    page = DashboardPage(services)
    document = pn.state.curdoc
    if document is not None and document.session_context is not None:
        page.start()
    return page.template
