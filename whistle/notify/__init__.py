"""Notifications (issue #18): messages, their zh/en templates, and the channels that carry them.

:mod:`whistle.notify.message` builds a :class:`~whistle.notify.message.Message` for one
recipient; :mod:`whistle.notify.channels` sends it by e-mail (SMTP), a WeCom, DingTalk or
Feishu group robot, or SMS. Every channel reports an attempt as the shared
:class:`whistle.delivery.attempt.AttemptResult`, judged with the webhooks' retry schedule.
"""
