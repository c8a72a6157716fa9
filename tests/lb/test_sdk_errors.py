"""How each SDK-based cloud client names a failed call (shape.sdk_error): `CLOUD OPERATION:
CODE: MESSAGE`, the cloud's code kept on the error, a Throttled when the cloud asked to slow
down. The exceptions are plain objects with the attributes each SDK's exceptions carry
(Tea's `code`/`message`, TencentCloudSDKException's `code`/`message`, Huawei's
`status_code`/`error_code`/`error_msg`): no SDK is needed to check the mapping."""

from __future__ import annotations

from gapwatch.recorder.sources.lb import alibaba, huawei, tencent
from gapwatch.recorder.sources.lb.shape import LbApiError, Throttled, sdk_error


class SdkFailure(Exception):
    def __init__(self, **attrs: object) -> None:
        super().__init__("transport said no")
        for name, value in attrs.items():
            setattr(self, name, value)


def test_the_message_names_cloud_operation_code_and_message() -> None:
    err = sdk_error("x-lb", "Look", SdkFailure(), code="Busy", message="later", throttled=True)
    assert isinstance(err, Throttled)
    assert (str(err), err.code) == ("x-lb Look: Busy: later", "Busy")


def test_without_a_code_the_exception_type_stands_in() -> None:
    err = sdk_error("x-lb", "Look", SdkFailure(), code="", message="down", throttled=False)
    assert type(err) is LbApiError
    assert (str(err), err.code) == ("x-lb Look: SdkFailure: down", None)


def test_alibaba() -> None:
    throttled = alibaba._error(SdkFailure(code="Throttling.User", message="slow"), "Describe")
    assert isinstance(throttled, Throttled) and throttled.code == "Throttling.User"
    assert str(throttled) == "alibaba-slb Describe: Throttling.User: slow"
    plain = alibaba._error(SdkFailure(), "Describe")
    assert type(plain) is LbApiError and plain.code is None
    assert str(plain) == "alibaba-slb Describe: SdkFailure: transport said no"


def test_tencent() -> None:
    for code in ("RequestLimitExceeded", "LimitExceeded.Foo"):
        assert isinstance(tencent._error(SdkFailure(code=code, message="m"), "Op"), Throttled)
    plain = tencent._error(SdkFailure(code="AuthFailure", message=""), "DescribeTargets")
    assert type(plain) is LbApiError and plain.code == "AuthFailure"
    assert str(plain) == "tencent-clb DescribeTargets: AuthFailure: transport said no"


def test_huawei() -> None:
    throttled = huawei._error(SdkFailure(status_code=429, error_msg="too many"), "ListMembers")
    assert isinstance(throttled, Throttled) and throttled.code == "429"
    assert str(throttled) == "huawei-elb ListMembers: 429: too many"
    coded = huawei._error(SdkFailure(status_code=404, error_code="ELB.404"), "ListMembers")
    assert type(coded) is LbApiError and coded.code == "ELB.404"
    assert str(coded) == "huawei-elb ListMembers: ELB.404: transport said no"
    bare = huawei._error(SdkFailure(), "ListMembers")
    assert str(bare) == "huawei-elb ListMembers: SdkFailure: transport said no"
    assert bare.code == "SdkFailure"
