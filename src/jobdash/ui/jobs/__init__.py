"""The legacy job-level view: one table row per job, with stop, reset and remove.

The table (:class:`~jobdash.ui.jobs.job_status_widget.JobStatusWidget`) is
built per browser session over rows every session shares
(:class:`~jobdash.ui.jobs.job_table_rows.JobTableRows`, computed once per
change), and :class:`~jobdash.ui.jobs.tabulator_row_updates.TabulatorRowUpdates`
makes the browser apply a patch row by row instead of redrawing the page. The
view goes when the legacy ``JobService`` does (seed phase 2).
"""
