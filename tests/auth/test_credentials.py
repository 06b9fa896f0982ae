"""Where a request's token is read from: Authorization: Bearer, X-API-Key, gRPC metadata."""

from __future__ import annotations

from moorings.auth.credentials import INVALID_CHALLENGE, Presented, presented, refusal


def test_bearer_tokens_and_api_keys() -> None:
    assert presented([(b"authorization", b"Bearer abc")]) == Presented(b"abc", True)
    assert presented([(b"authorization", b"bearer   abc ")]) == Presented(b"abc", True)
    assert presented([(b"x-api-key", b"abc")]) == Presented(b"abc", True)
    assert presented([(b"x-api-key", b"key"), (b"authorization", b"Bearer tok")]).token == b"tok"


def test_other_schemes_and_empty_values_present_no_token() -> None:
    assert presented([(b"authorization", b"Basic YWxhZGRpbjpvcGVu")]) == Presented(None, True)
    assert presented([(b"authorization", b"Bearer ")]) == Presented(None, True)
    assert presented([(b"x-api-key", b"")]) == Presented(None, True)
    assert presented([(b"accept", b"*/*")]) == Presented(None, False)


def test_grpc_metadata_in_text_pairs_any_case() -> None:
    assert presented((("user-agent", "grpc"), ("Authorization", "Bearer abc"))).token == b"abc"


def test_refusals_say_what_to_send_and_never_echo_the_token() -> None:
    missing = refusal(Presented(None, False))
    assert "requires a token" in missing.message and missing.http_status == 401
    bad = refusal(presented([(b"authorization", b"Bearer wrong-secret")]))
    assert "not valid" in bad.message and "wrong-secret" not in bad.message
    assert bad.challenge == INVALID_CHALLENGE and bad.grpc_code == "UNAUTHENTICATED"
