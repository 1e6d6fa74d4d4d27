"""The background half of a messenger question: the webhook has answered within Slack's three
seconds already; here the answer is written and posted in the thread.

Jobs are plain JSON dicts made by the views (views.py says their keys). With a broker they
are Celery tasks; with eager Celery (`make run`, the tests) a Celery call would run inside the
webhook's request and keep Slack waiting, so they run on a thread of this process instead.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connections
from django.utils import translation

from apps.accounts import messenger as links
from apps.scenarios.messenger import answer, mattermost, replies, slack
from common.background import Background

log = logging.getLogger(__name__)

_background = Background()


def dispatch(task: Any, job: dict[str, Any]) -> None:
    """Run `task` on `job` in the background (see the module)."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            task.delay(job)
            return
        except Exception:
            # The broker is away: the question is still answered, by this process.
            log.exception("messenger job %s not queued; running it here", task.name)

    def run() -> None:
        try:
            task(job)
        except Exception:
            log.exception("messenger job %s failed", task.name)
        finally:
            connections.close_all()  # this thread's own; it ends here

    _background.run(run, name="messenger-job")


def wait_idle(timeout: float = 120.0) -> bool:
    """Wait for this process's background jobs (tests, benches). True when all finished."""
    return _background.wait(timeout)


def _identity(job: dict[str, Any]) -> Any:
    return links.identity_for(job["kind"], job.get("team", ""), job["user"])


@shared_task(name="messenger.slack_answer", time_limit=300, soft_time_limit=290)
def slack_answer(job: dict[str, Any]) -> str:
    """A linked Slack user's question: answered in the thread of their message (a mention or
    a direct message), or, for the slash command, of a message the bot posts with the
    question; response_url when the bot may not post in that channel."""
    with translation.override(settings.MESSENGER_LANGUAGE):
        identity = _identity(job)
        if identity is None:  # unlinked since the webhook answered
            return "unlinked"
        if answer.taken(identity.user, job.get("id", "")):
            return "duplicate"
        links.touch(identity)
        channel, thread = job["channel"], job.get("thread_ts", "")
        if job.get("command"):
            try:
                thread = slack.post_message(
                    channel, slack.escape(replies.asked(f"@{job['user_name']}", job["question"]))
                )
            except slack.SlackError as exc:
                log.info("slack: cannot post in %s (%s); answering via response_url", channel, exc)
                thread = ""
        reply = answer.ask(
            identity.user,
            job["question"],
            job["base"],
            shared=not job["private"],
            request_id=job.get("id", ""),
        )
        notes = [] if job["private"] else [replies.shared_note()]
        text = replies.slack_text(reply, notes)
        if thread:
            slack.post_message(channel, text, thread)
        elif job.get("response_url"):
            slack.respond(job["response_url"], text)
        return "failed" if reply.failed else "answered"


@shared_task(name="messenger.slack_link", time_limit=60, soft_time_limit=50)
def slack_link(job: dict[str, Any]) -> str:
    """Offer the one-time link to an unlinked Slack user, where only they see it."""
    with translation.override(settings.MESSENGER_LANGUAGE):
        code = links.offer_link("slack", job["team"], job["user"], job.get("user_name", ""))
        text = slack.escape(replies.link_offer("slack", replies.link_url(job["base"], code)))
        if job["private"]:
            slack.post_message(job["channel"], text, job.get("thread_ts", ""))
        else:
            slack.post_ephemeral(job["channel"], job["user"], text, job.get("thread_ts", ""))
        return "offered"


@shared_task(name="messenger.mattermost_answer", time_limit=300, soft_time_limit=290)
def mattermost_answer(job: dict[str, Any]) -> str:
    """A linked Mattermost user's question: answered in the thread of their post (outgoing
    webhook) or of a post the bot makes with the question (slash command)."""
    with translation.override(settings.MESSENGER_LANGUAGE):
        identity = _identity(job)
        if identity is None:
            return "unlinked"
        if answer.taken(identity.user, job.get("id", "")):
            return "duplicate"
        links.touch(identity)
        channel = job["channel"]
        if job.get("post_id"):
            try:
                root = mattermost.thread_root(job["post_id"])
            except mattermost.MattermostError:
                root = job["post_id"]
        else:
            root = mattermost.create_post(
                channel, replies.asked(f"@{job['user_name']}", job["question"])
            )
        private = mattermost.is_direct(channel)
        reply = answer.ask(
            identity.user,
            job["question"],
            job["base"],
            shared=not private,
            request_id=job.get("id", ""),
        )
        notes = [] if private else [replies.shared_note()]
        mattermost.create_post(channel, replies.mattermost_text(reply, notes), root_id=root)
        return "failed" if reply.failed else "answered"


@shared_task(name="messenger.mattermost_link", time_limit=60, soft_time_limit=50)
def mattermost_link(job: dict[str, Any]) -> str:
    """Offer the one-time link to an unlinked Mattermost user in a direct message."""
    with translation.override(settings.MESSENGER_LANGUAGE):
        code = links.offer_link("mattermost", "", job["user"], job.get("user_name", ""))
        text = replies.link_offer("mattermost", replies.link_url(job["base"], code))
        mattermost.direct_message(job["user"], text)
        return "offered"
