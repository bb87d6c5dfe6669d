from mason.registry.diagnostics import display_url, error_for_status
from mason.registry.redact import MASK, redact
from mason.errors import AuthError, NotFoundError, RegistryError


def test_redacts_known_secrets_and_credential_shapes():
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    text = (f"https://user:hunter22@reg.io/v2/ Authorization: Bearer {jwt} "
            "token=abcdef123456 {\"password\": \"pw-in-json\"} Basic dXNlcjpodW50ZXIyMg== hunter22")
    out = redact(text, secrets=["hunter22"])
    for secret in ["hunter22", jwt, "abcdef123456", "pw-in-json", "dXNlcjpodW50ZXIyMg=="]:
        assert secret not in out
    assert MASK in out
    assert "reg.io/v2/" in out


def test_display_url_drops_userinfo_and_query():
    assert display_url("https://u:p@reg.io/v2/a/blobs/uploads/x?_state=abc&digest=sha256:1") == \
        "https://reg.io/v2/a/blobs/uploads/x"


def test_error_classification_and_codes():
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}'
    err = error_for_status(registry="reg.io", method="GET", url="https://reg.io/v2/a/manifests/x", status=404,
                           reason="Not Found", body=body, what="manifest reg.io/a:x")
    assert isinstance(err, NotFoundError)
    assert err.codes == ("MANIFEST_UNKNOWN",) and err.status == 404 and err.method == "GET"
    assert "registry reg.io" in err.message and "MANIFEST_UNKNOWN: manifest unknown" in err.message
    denied = error_for_status(registry="reg.io", method="PUT", url="https://reg.io/v2/a/manifests/x",
                              status=403, body=b'{"errors":[{"code":"DENIED","message":"no"}]}')
    assert isinstance(denied, AuthError) and denied.codes == ("DENIED",)
    busy = error_for_status(registry="reg.io", method="GET", url="https://reg.io/v2/", status=503, body=b"busy")
    assert type(busy) is RegistryError and busy.temporary and "busy" in busy.message
    bad = error_for_status(registry="reg.io", method="GET", url="https://reg.io/v2/", status=400,
                           body=b'{"errors":[{"code":"MANIFEST_INVALID","message":"bad"}]}')
    assert not bad.temporary and bad.codes == ("MANIFEST_INVALID",)


def test_error_message_never_contains_secrets():
    err = error_for_status(registry="reg.io", method="GET", url="https://me:pw12345@reg.io/v2/", status=401,
                           body=b'{"details":"bad token eyJhbGciOiJI.eyJzdWIi.sig"}', secrets=("pw12345",))
    assert "pw12345" not in err.message and "eyJhbGciOiJI" not in err.message and "me:" not in err.message
