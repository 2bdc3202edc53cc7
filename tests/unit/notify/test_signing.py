"""The robots' and the SMS gateway's signatures against published or independent vectors."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC
from hypothesis import given
from hypothesis import strategies as st

from whistle.notify.signing import (
    aliyun_signature,
    aliyun_string_to_sign,
    dingtalk_sign,
    dingtalk_url,
    feishu_sign,
    percent_encode,
)

# Alibaba Cloud's own example of the RPC signature v1.0 (API 签名机制 示例): AccessKeyId
# testid, AccessKeySecret testsecret, DescribeRegions; HMAC key "testsecret&".
# https://developer.aliyun.com/ask/210168 (the ECS example of the shared RPC signature method)
ALIYUN_EXAMPLE = {
    "TimeStamp": "2016-02-23T12:46:24Z",
    "Format": "XML",
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}
ALIYUN_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
    "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
    "%26SignatureVersion%3D1.0%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)

# DingTalk and Feishu publish the rule but no vector: these were computed with OpenSSL 3.0:
#   printf '%s\n%s' 1599360473000 "$S" | openssl dgst -sha256 -hmac "$S" -binary | base64
#   printf '' | openssl dgst -sha256 -mac HMAC \
#       -macopt hexkey:$(printf '%s\n%s' 1599360473 "$FS" | xxd -p | tr -d '\n') -binary | base64
DINGTALK_SECRET = "SEC6e5f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9d0e1f2a3b"
DINGTALK_SIGN = "OkpxqTIDYhpbUxnI0J6+mJCzoYa5otsfecMNFC3Vn8k="
FEISHU_SECRET = "qL3nW8xZ0pT5rY2v"
FEISHU_SIGN = "u/DwBr7S3AZAh7ZvYQXfjaoP4YpuFv9FtmQDEkauLmc="


def test_aliyun_string_to_sign_is_the_documented_one() -> None:
    assert aliyun_string_to_sign("GET", ALIYUN_EXAMPLE) == ALIYUN_STRING_TO_SIGN


def test_aliyun_signature_is_the_documented_one() -> None:
    assert aliyun_signature("testsecret", "GET", ALIYUN_EXAMPLE) == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_aliyun_signature_leaves_out_a_signature_parameter() -> None:
    signed = ALIYUN_EXAMPLE | {"Signature": "CT9X0VtwR86fNWSnsc6v8YGOjuE="}
    assert aliyun_signature("testsecret", "GET", signed) == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_percent_encoding_is_alibabas() -> None:
    assert percent_encode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"
    assert percent_encode("阿里云") == "%E9%98%BF%E9%87%8C%E4%BA%91"


def test_dingtalk_sign_matches_openssl() -> None:
    assert dingtalk_sign(DINGTALK_SECRET, 1599360473000) == DINGTALK_SIGN


def test_dingtalk_url_appends_the_url_encoded_sign() -> None:
    url = dingtalk_url(
        "https://oapi.dingtalk.com/robot/send?access_token=abc", DINGTALK_SECRET, 1599360473000
    )
    query = urlsplit(url).query
    assert query.startswith("access_token=abc&timestamp=1599360473000&sign=")
    assert "+" not in query.split("sign=")[1] and "=" not in query.split("sign=")[1]
    assert parse_qs(query)["sign"] == [DINGTALK_SIGN]


def test_dingtalk_url_without_a_secret_is_unchanged() -> None:
    url = "https://oapi.dingtalk.com/robot/send?access_token=abc"
    assert dingtalk_url(url, None, 1) == url


def test_feishu_sign_matches_openssl() -> None:
    assert feishu_sign(FEISHU_SECRET, 1599360473) == FEISHU_SIGN


def _hmac_sha256(key: bytes, data: bytes) -> str:
    mac = HMAC(key, hashes.SHA256())
    mac.update(data)
    return base64.b64encode(mac.finalize()).decode()


@given(st.text(min_size=1, max_size=80), st.integers(min_value=0, max_value=2**42))
def test_robot_signs_agree_with_another_hmac_implementation(secret: str, ts: int) -> None:
    """``cryptography``'s HMAC (OpenSSL) against the stdlib one the module uses."""
    assert dingtalk_sign(secret, ts) == _hmac_sha256(secret.encode(), f"{ts}\n{secret}".encode())
    assert feishu_sign(secret, ts) == _hmac_sha256(f"{ts}\n{secret}".encode(), b"")
