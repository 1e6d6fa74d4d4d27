import threading

import pytest

from common.background import Background


def test_wait_joins_every_job_and_says_whether_they_finished() -> None:
    background = Background()
    release = threading.Event()
    background.run(lambda: release.wait(5), name="slow")
    assert background.wait(0.05) is False  # still running
    release.set()
    assert background.wait(5) is True


def test_a_job_being_started_while_another_thread_waits_is_never_joined_unstarted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A job that ends starts the next one from its own thread while a test or bench waits.
    # The waiter is made to read the list at the worst moment: just before the new thread
    # starts. A thread listed before it started would raise "cannot join thread before it
    # is started" here.
    background = Background()
    start = threading.Thread.start
    errors: list[BaseException] = []

    def start_while_someone_waits(thread: threading.Thread) -> None:
        try:
            background.wait(1)
        except RuntimeError as error:
            errors.append(error)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_while_someone_waits)
    done = threading.Event()
    background.run(done.set, name="next-job")
    monkeypatch.undo()
    assert background.wait(5) is True
    assert done.is_set()
    assert errors == []
