"""OutcomeTracker: each command's fate for the exit status, the same feedback lines."""

from __future__ import annotations

import threading
import uuid

from jobdash.cli.command_outcomes import CommandOutcome, OutcomeTracker
from jobdash.domain.clock import ManualClock
from jobdash.domain.commands import (
    Acknowledgement,
    Command,
    JobAction,
    JobCommand,
    JobIdentifier,
)
from jobdash.services.notifications import NotificationLog


def _stop(source: str) -> Command:
    return JobCommand(
        job_id=JobIdentifier(source_name=source, job_number=uuid.uuid4()),
        action=JobAction.stop,
    )


def _answer(
    command: Command, response: str = "ACK", message: str | None = None
) -> Acknowledgement:
    assert command.job_id is not None
    device = f"{command.job_id.source_name}/{command.job_id.job_number}"
    return Acknowledgement(
        message_id=command.message_id, device=device, response=response, message=message
    )


def _tracker(
    timeout: float = 30.0,
) -> tuple[OutcomeTracker, ManualClock, NotificationLog]:
    clock = ManualClock()
    notifications = NotificationLog(clock)
    return OutcomeTracker(clock, notifications, timeout=timeout), clock, notifications


def _texts(notifications: NotificationLog) -> list[str]:
    return [f"{n.level.value}: {n.text}" for n in notifications.since(0)]


def test_acknowledged_commands_settle_with_the_dashboards_summary() -> None:
    tracker, _, notifications = _tracker()
    commands = [_stop("mantle"), _stop("endcap")]
    tracker.track(commands, verb="Stopped", subject="Detector view")
    assert not tracker.settled()

    for command in commands:
        tracker.ack_received(_answer(command))

    assert tracker.settled()
    assert set(tracker.outcomes().values()) == {CommandOutcome.acknowledged}
    assert _texts(notifications) == ["success: Stopped 2/2 jobs for Detector view"]


def test_an_err_fails_its_command_even_after_an_ack_and_an_ack_cannot_undo_it() -> None:
    tracker, _, notifications = _tracker()
    first, second = _stop("mantle"), _stop("endcap")
    tracker.track([first, second], verb="Stopped", subject="Detector view")

    tracker.ack_received(_answer(first))
    tracker.ack_received(_answer(first, "ERR", "job is stopping"))
    tracker.ack_received(_answer(second, "ERR", "unknown job"))
    tracker.ack_received(_answer(second))

    assert tracker.outcomes() == {
        first.message_id: CommandOutcome.failed,
        second.message_id: CommandOutcome.failed,
    }
    assert "error: Stop of mantle failed: job is stopping" in _texts(notifications)


def test_a_command_the_transport_gave_up_on_is_a_send_failure() -> None:
    tracker, _, notifications = _tracker()
    command = _stop("mantle")
    tracker.track([command], verb="Stopped", subject="Detector view")

    tracker.command_failed(command, "Local: Message timed out")

    assert tracker.outcomes() == {command.message_id: CommandOutcome.send_failed}
    assert _texts(notifications) == [
        "error: Could not send Stop of mantle: Local: Message timed out"
    ]


def test_silence_past_the_timeout_is_no_response_once_ticked() -> None:
    tracker, clock, notifications = _tracker(timeout=5.0)
    answered, silent = _stop("mantle"), _stop("endcap")
    tracker.track([answered, silent], verb="Stopped", subject="Detector view")
    tracker.ack_received(_answer(answered))
    clock.advance(4.9)
    tracker.tick()
    assert tracker.outcomes()[silent.message_id] is CommandOutcome.pending

    clock.advance(0.2)
    tracker.tick()

    assert tracker.outcomes() == {
        answered.message_id: CommandOutcome.acknowledged,
        silent.message_id: CommandOutcome.no_response,
    }
    assert tracker.settled()
    assert _texts(notifications) == [
        "warning: Stopped 1/2 jobs for Detector view; 1 with no response after 5 s"
    ]


def test_a_late_answer_does_not_change_a_timed_out_command() -> None:
    tracker, clock, _ = _tracker(timeout=1.0)
    command = _stop("mantle")
    tracker.track([command], verb="Stopped", subject="Detector view")
    clock.advance(2.0)
    tracker.tick()

    tracker.ack_received(_answer(command))

    assert tracker.outcomes() == {command.message_id: CommandOutcome.no_response}
    assert tracker.ignored_acks == 1


def test_a_group_tracked_after_a_timeout_still_waits_for_its_own_answers() -> None:
    tracker, clock, _ = _tracker(timeout=1.0)
    old = _stop("mantle")
    tracker.track([old], verb="Stopped", subject="Detector view")
    clock.advance(2.0)
    new = _stop("endcap")
    tracker.track([new], verb="Stopped", subject="Detector view")

    tracker.tick()

    assert tracker.outcomes() == {
        old.message_id: CommandOutcome.no_response,
        new.message_id: CommandOutcome.pending,
    }


def test_wait_settled_returns_when_another_thread_brings_the_last_answer() -> None:
    tracker, _, _ = _tracker()
    command = _stop("mantle")
    tracker.track([command], verb="Stopped", subject="Detector view")
    assert not tracker.wait_settled(0.01)

    answer = threading.Timer(0.05, tracker.ack_received, args=[_answer(command)])
    answer.start()
    try:
        assert tracker.wait_settled(10.0)
    finally:
        answer.join()
    assert tracker.outcomes() == {command.message_id: CommandOutcome.acknowledged}


def test_answers_to_commands_it_did_not_track_are_ignored() -> None:
    tracker, _, notifications = _tracker()

    tracker.ack_received(_answer(_stop("mantle")))
    tracker.command_failed(_stop("endcap"), "queue full")

    assert tracker.outcomes() == {}
    assert tracker.settled()
    assert _texts(notifications) == ["error: Could not send Stop of endcap: queue full"]
