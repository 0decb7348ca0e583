"""The workflow-level view: one card per catalogued workflow, a page at a time.

:class:`~jobdash.ui.workflows.workflow_widget.WorkflowWidget` pages through the
catalogue (``workflow_pager``, ``workflow_toolbar``) and keeps one
:class:`~jobdash.ui.workflows.workflow_card.WorkflowCard` per workflow shown:
its status as markup built from snapshots (``workflow_markup``), its staging
form (``staging_draft``, ``source_groups``, ``staging_form``,
``parameter_groups``, ``parameter_form``) and its actions,
which go to the ``JobOrchestrator`` in the session actor's name.
"""
