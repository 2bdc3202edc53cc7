"""The channels of notifications, one small interface (:class:`Channel`) for all of them."""

from whistle.notify.channels.base import Channel, Destination
from whistle.notify.channels.email import EmailChannel, SmtpConfig
from whistle.notify.channels.robots import DingTalkRobot, FeishuBot, WeComRobot
from whistle.notify.channels.sms import AliyunSms, SmsGateway, sms_gateway

__all__ = [
    "AliyunSms",
    "Channel",
    "Destination",
    "DingTalkRobot",
    "EmailChannel",
    "FeishuBot",
    "SmsGateway",
    "SmtpConfig",
    "WeComRobot",
    "sms_gateway",
]
