"""Which registry answers --push-ignore-immutable-tag-errors may treat as success."""

from mason.errors import AuthError, RegistryError
from mason.registry.diagnostics import error_for_status

URL = "http://r.example/v2/team/app/manifests/v1"


def err(status, body, url=URL):
    return error_for_status(registry="r.example", method="PUT", url=url, status=status, body=body,
                            what="manifest r.example/team/app:v1")


def test_known_registry_answers():
    from mason.registry.immutable import is_immutable_tag_error

    ecr = err(400, b'{"errors":[{"code":"TAG_INVALID","message":"The image tag \'v1\' already exists in the '
                   b'\'app\' repository and cannot be overwritten because the repository is immutable."}]}')
    harbor = err(412, b'{"errors":[{"code":"PRECONDITION","message":"Failed to process request due to '
                      b'\'app:v1\' configured as immutable."}]}')
    gar = err(400, b'{"errors":[{"code":"MANIFEST_INVALID","message":"The repository has enabled tag immutability."}]}')
    hub = err(403, b'{"errors":[{"code":"DENIED","message":"tag v1 is immutable"}]}')
    assert isinstance(hub, AuthError)
    assert all(is_immutable_tag_error(e) for e in (ecr, harbor, gar, hub))


def test_other_refusals_are_errors():
    from mason.registry.immutable import is_immutable_tag_error

    assert not is_immutable_tag_error(err(400, b'{"errors":[{"code":"MANIFEST_INVALID","message":"bad json"}]}'))
    assert not is_immutable_tag_error(err(403, b'{"errors":[{"code":"DENIED","message":"requested access '
                                               b'to the resource is denied"}]}'))
    # a temporary failure mentioning immutability is not a refusal of the tag
    assert not is_immutable_tag_error(err(503, b'immutable storage unavailable'))
    assert not is_immutable_tag_error(RegistryError("immutable, but no status"))


def test_the_repository_name_is_not_the_registry_s_words():
    from mason.registry.immutable import is_immutable_tag_error

    e = error_for_status(registry="r.example", method="PUT", status=400,
                         url="http://r.example/v2/immutable-app/manifests/v1",
                         body=b'{"errors":[{"code":"MANIFEST_INVALID","message":"bad"}]}',
                         what="manifest r.example/immutable-app:v1")
    assert "immutable-app" in e.message and not is_immutable_tag_error(e)
