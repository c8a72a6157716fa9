"""The signature checks of the Alibaba, Tencent and Huawei cloud APIs, as their servers make them.

Each check recomputes the request's signature from what arrived on the wire and the secret of the
key the request names, and refuses it with the cloud's own error code when they differ, the key
is unknown, the signed headers are missing or the signature is too old. A poller that signs
wrongly (a wrong secret, a header changed after signing, a wrong date or service) is refused as
the real API would refuse it. Published algorithms:

- Alibaba `ACS3-HMAC-SHA256` (the V3 signature of Alibaba Cloud's OpenAPI: "Request syntax and
  signature method V3"): `Authorization: ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,
  Signature=HEX`; string to sign `ACS3-HMAC-SHA256\\nhex(sha256(canonical request))`, HMAC-SHA256
  with the secret; the payload hash is `x-acs-content-sha256`, which must match the body.
- Tencent `TC3-HMAC-SHA256` (API 3.0, "Signature v3"): credential scope `DATE/SERVICE/
  tc3_request`, key derived `TC3`+secret -> date -> service -> `tc3_request`; a timestamp more
  than 300 s from the server's clock is `AuthFailure.SignatureExpire`.
- Huawei `SDK-HMAC-SHA256` (the API Gateway AK/SK signing its SDKs use): canonical URI ends with
  `/`, string to sign `SDK-HMAC-SHA256\\nX-Sdk-Date\\nhex(sha256(canonical request))`, HMAC-SHA256
  with the SK; a date more than 15 minutes off is refused.

Pure functions of the request: no server, no clock but the `now` handed in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit

#: Tencent refuses a request whose X-TC-Timestamp is further than this from its clock (s).
TC3_MAX_SKEW_S = 300.0
#: Huawei's API Gateway refuses an X-Sdk-Date further than this from its clock (s).
HUAWEI_MAX_SKEW_S = 900.0
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One HTTP request as the fake received it (header names lower-case)."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the cloud refuses a request: its error code and message."""

    code: str
    message: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _fields(value: str, separator: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split(separator):
        key, sep, item = part.strip().partition("=")
        if sep:
            out[key] = item
    return out


def _authorization(req: WireRequest, algorithm: str) -> dict[str, str] | None:
    """The Authorization header's fields (`Key=value` after the algorithm), or None when the
    request is not signed with `algorithm`."""
    name, _, rest = req.headers.get("authorization", "").partition(" ")
    if name != algorithm:
        return None
    return _fields(rest, ",")


def _headers_block(req: WireRequest, names: list[str]) -> str | None:
    lines = []
    for name in names:
        if name not in req.headers:
            return None
        lines.append(f"{name}:{req.headers[name].strip()}\n")
    return "".join(lines)


def check_acs3(req: WireRequest, secrets: Mapping[str, str]) -> Refusal | None:
    """Alibaba Cloud's ACS3-HMAC-SHA256 check (None: the signature is right)."""
    fields = _authorization(req, "ACS3-HMAC-SHA256")
    if fields is None:
        return Refusal("MissingAuthorization", "Authorization is mandatory for this action.")
    key = fields.get("Credential", "")
    if key not in secrets:
        return Refusal("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    signed = fields.get("SignedHeaders", "").split(";")
    payload = req.headers.get("x-acs-content-sha256", "")
    if payload != _sha256(req.body):
        return Refusal("IncompleteSignature", "The request signature does not conform.")
    block = _headers_block(req, signed)
    if block is None or "host" not in signed or "x-acs-date" not in signed:
        return Refusal("IncompleteSignature", "The request signature does not conform.")
    query = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(req.query))
    path = quote(unquote(req.path), safe="/~")
    canonical = f"{req.method}\n{path}\n{query}\n{block}\n{';'.join(signed)}\n{payload}"
    to_sign = f"ACS3-HMAC-SHA256\n{_sha256(canonical.encode('utf-8'))}"
    expected = _hmac(secrets[key].encode("utf-8"), to_sign).hex()
    if not hmac.compare_digest(expected, fields.get("Signature", "")):
        return Refusal(
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation. "
            f"server string to sign is:{to_sign}",
        )
    return None


def check_tc3(
    req: WireRequest, secrets: Mapping[str, str], *, service: str, now: float
) -> Refusal | None:
    """Tencent Cloud's TC3-HMAC-SHA256 check (None: the signature is right)."""
    fields = _authorization(req, "TC3-HMAC-SHA256")
    if fields is None:
        return Refusal("AuthFailure.SignatureFailure", "The provided credentials are invalid.")
    key, _, scope = fields.get("Credential", "").partition("/")
    if key not in secrets:
        return Refusal("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    try:
        stamp = int(req.headers.get("x-tc-timestamp", ""))
    except ValueError:
        return Refusal("AuthFailure.InvalidAuthorization", "X-TC-Timestamp is invalid.")
    if abs(now - stamp) > TC3_MAX_SKEW_S:
        return Refusal("AuthFailure.SignatureExpire", "Signature expired.")
    date = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d")
    if scope != f"{date}/{service}/tc3_request":
        return Refusal("AuthFailure.SignatureFailure", "The credential scope is invalid.")
    signed = fields.get("SignedHeaders", "").split(";")
    block = _headers_block(req, signed)
    if block is None or "host" not in signed or "content-type" not in signed:
        return Refusal("AuthFailure.SignatureFailure", "The signed headers are invalid.")
    query = urlsplit(req.target).query if req.method == "GET" else ""
    payload = _sha256(req.body)
    canonical = f"{req.method}\n{req.path}\n{query}\n{block}\n{';'.join(signed)}\n{payload}"
    to_sign = (
        f"TC3-HMAC-SHA256\n{stamp}\n{date}/{service}/tc3_request\n"
        f"{_sha256(canonical.encode('utf-8'))}"
    )
    signing = _hmac(_hmac(_hmac(f"TC3{secrets[key]}".encode(), date), service), "tc3_request")
    if not hmac.compare_digest(_hmac(signing, to_sign).hex(), fields.get("Signature", "")):
        return Refusal(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is "
            "correct.",
        )
    return None


def check_huawei(req: WireRequest, secrets: Mapping[str, str], *, now: float) -> Refusal | None:
    """Huawei Cloud's SDK-HMAC-SHA256 check (None: the signature is right)."""
    fields = _authorization(req, "SDK-HMAC-SHA256")
    if fields is None:
        return Refusal("APIGW.0301", "Incorrect IAM authentication information: no signature")
    key = fields.get("Access", "")
    if key not in secrets:
        return Refusal("APIGW.0301", "Incorrect IAM authentication information: ak not found")
    stamp = req.headers.get("x-sdk-date", "")
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return Refusal("APIGW.0301", "Incorrect IAM authentication information: x-sdk-date")
    if abs(now - when) > HUAWEI_MAX_SKEW_S:
        return Refusal("APIGW.0301", "Incorrect IAM authentication information: expired")
    signed = fields.get("SignedHeaders", "").split(";")
    block = _headers_block(req, signed)
    if block is None or "host" not in signed or "x-sdk-date" not in signed:
        return Refusal("APIGW.0301", "Incorrect IAM authentication information: headers")
    path = "/".join(quote(p, safe="~") for p in unquote(req.path).split("/"))
    path += "" if path.endswith("/") else "/"
    query = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(req.query))
    payload = _sha256(req.body) if req.body else _EMPTY_SHA256
    canonical = f"{req.method}\n{path}\n{query}\n{block}\n{';'.join(signed)}\n{payload}"
    to_sign = f"SDK-HMAC-SHA256\n{stamp}\n{_sha256(canonical.encode('utf-8'))}"
    expected = _hmac(secrets[key].encode("utf-8"), to_sign).hex()
    if not hmac.compare_digest(expected, fields.get("Signature", "")):
        return Refusal(
            "APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail"
        )
    return None
