"""What ``JobOrchestrator`` keeps across restarts, and writing it in order.

Per workflow, the config file holds the staged configs (what the next commit
starts) and the committed JobSet's job number with its configs, so that a
restarted dashboard recognises its own running jobs (adopted with their
configs known) instead of showing them as foreign. Runtime status is never
persisted.

Two rules shape this module:

- The committed JobSet stays in the file until the next commit, whatever
  happens to it meanwhile, so that a restart can still recognise its jobs.
- The file is written *outside* the orchestrator's lock (a write fsyncs
  twice), so saves are numbered under the lock and a save older than one
  already written is skipped: the file never goes back in time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from jobdash.domain.ids import JobNumber, SourceName, WorkflowId
from jobdash.domain.workflow_catalogue import ParameterError, WorkflowCatalogue
from jobdash.services.config_store import (
    ConfigStore,
    PersistedJobConfig,
    PersistedJobSet,
    PersistedState,
    PersistedWorkflow,
)
from jobdash.services.workflow_state import JobConfig, WorkflowState

__all__ = ["SaveRequest", "WorkflowPersistence"]

logger = logging.getLogger(__name__)

SaveRequest = tuple[int, PersistedState | None]
"""A numbered file content, taken under the orchestrator's lock."""


class WorkflowPersistence:
    """The config file's content, kept in step with the orchestrator's state.

    Not thread-safe apart from :meth:`save`: the orchestrator calls the rest
    under its lock.

    Parameters
    ----------
    store
        The file; ``None``: nothing is persisted (every method still works).
    catalogue
        Decides which saved workflows and sources still exist, and validates
        saved parameters.
    """

    def __init__(self, store: ConfigStore | None, catalogue: WorkflowCatalogue) -> None:
        self._store = store
        self._catalogue = catalogue
        # The file's content, by workflow id text; entries of workflows not in
        # this catalogue are carried through untouched.
        self._persisted: dict[str, PersistedWorkflow] = {}
        self._save_lock = threading.Lock()
        self._save_seq = 0
        self._saved_seq = 0
        self._restore_warnings: list[str] = []

    def restore(self) -> dict[WorkflowId, dict[SourceName, JobConfig]]:
        """Load the file; the staged configs it holds, validated, per workflow.

        Saved configs of sources the workflow no longer has, or with values
        its schema now refuses, are dropped with a warning (:attr:`warnings`).
        """
        staged_by_workflow: dict[WorkflowId, dict[SourceName, JobConfig]] = {}
        if self._store is None:
            return staged_by_workflow
        for key, persisted in self._store.load().workflows.items():
            self._persisted[key] = persisted
            try:
                workflow_id = WorkflowId.parse(key)
            except ValueError:
                self._warn(f"ignored saved configs of {key!r}: bad id")
                continue
            spec = self._catalogue.get(workflow_id)
            if spec is None:
                # Kept in the file, in case the catalogue is only switched
                # for a while.
                continue
            staged: dict[SourceName, JobConfig] = {}
            for source, config in persisted.staged.items():
                if source not in spec.source_names:
                    self._warn(
                        f"dropped the saved config of {source!r} for {spec.title!r}:"
                        " not a source of the workflow any more"
                    )
                    continue
                try:
                    staged[source] = JobConfig(
                        spec.validate_params(config.params),
                        spec.validate_aux_sources(config.aux_source_names),
                    )
                except ParameterError as exc:
                    self._warn(
                        f"dropped the saved config of {source!r} for {spec.title!r}:"
                        f" {exc}"
                    )
            staged_by_workflow[workflow_id] = spec.in_source_order(staged)
        return staged_by_workflow

    def committed_numbers(self, workflow_id: WorkflowId) -> list[JobNumber]:
        """The job numbers committed for ``workflow_id`` (this run or before),
        oldest first."""
        persisted = self._persisted.get(str(workflow_id))
        return [] if persisted is None else list(persisted.committed)

    def committed(self, workflow_id: WorkflowId) -> PersistedJobSet | None:
        """The JobSet last committed for ``workflow_id`` (this run or before)."""
        persisted = self._persisted.get(str(workflow_id))
        return None if persisted is None else persisted.current

    def update(self, workflow_id: WorkflowId, state: WorkflowState) -> None:
        """Take the workflow's staged configs and committed JobSet from ``state``."""
        key = str(workflow_id)
        current = state.current
        previous = self._persisted.get(key)
        if current is not None and current.committed_at is not None:
            committed: PersistedJobSet | None = PersistedJobSet(
                job_number=current.job_number,
                jobs={
                    source: _persisted_config(job)
                    for source, job in current.jobs.items()
                    if job.config_known
                },
            )
        else:
            committed = previous.current if previous is not None else None
        entry = PersistedWorkflow(
            staged={s: _persisted_config(j) for s, j in state.staged_jobs.items()},
            current=committed,
            committed=list(state.committed_here),
        )
        if entry.staged or entry.current is not None or entry.committed:
            self._persisted[key] = entry
        else:
            self._persisted.pop(key, None)

    def save_request(self) -> SaveRequest:
        """The file content to write, numbered in order."""
        if self._store is None:
            return 0, None
        self._save_seq += 1
        return self._save_seq, PersistedState(workflows=dict(self._persisted))

    def save(self, request: SaveRequest) -> None:
        """Write a requested content unless a newer one was written.

        Call it *after* releasing the orchestrator's lock; thread-safe.
        """
        seq, state = request
        if self._store is None or state is None:
            return
        with self._save_lock:
            if seq <= self._saved_seq:
                return
            self._store.save(state)
            self._saved_seq = seq

    @property
    def warnings(self) -> list[str]:
        """Problems with the file (the store's, then restoring's), oldest first."""
        store = [] if self._store is None else self._store.warnings
        return store + self._restore_warnings

    def _warn(self, text: str) -> None:
        logger.warning("%s", text)
        self._restore_warnings.append(text)


def _persisted_config(job: JobConfig) -> PersistedJobConfig:
    return PersistedJobConfig(params=job.params, aux_source_names=job.aux_source_names)


def persisted_configs(
    configs: Mapping[SourceName, PersistedJobConfig],
) -> dict[SourceName, JobConfig]:
    """Saved configs as the orchestrator's (fresh dicts, no status)."""
    return {
        source: JobConfig(dict(c.params), dict(c.aux_source_names))
        for source, c in configs.items()
    }
