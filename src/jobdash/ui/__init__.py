"""The dashboard's browser pages: Panel views over the shared services.

One page per browser session (:mod:`jobdash.ui.page`), built over the
services it reads (:mod:`jobdash.ui.dashboard_services`). The two main views
have packages of their own, :mod:`jobdash.ui.jobs` (the legacy job table) and
:mod:`jobdash.ui.workflows` (one card per workflow); what the whole page
shares — header, timeline, notification log and toasts, simulator panel, the
session refresher, live-updating markup panes, how durations are written —
lives here.
"""
