"""Delivery machinery shared by the webhook deliverer and the notifier.

An attempt to hand something to a receiver (an HTTP endpoint, a chat robot, an SMTP server, an
SMS gateway) ends in an :class:`~whistle.delivery.attempt.AttemptResult`; :func:`judge` turns
it into the delivery's next state with one retry schedule (:mod:`whistle.delivery.schedule`):
delivered, retried after a backoff, dead-lettered, or gone (the address no longer exists).
"""
