from mason.registry.challenge import parse_challenges, pick_challenge


def test_bearer_with_quoted_commas_and_spaces():
    header = ('Bearer realm="https://auth.example.com/token",service="registry.example.com",'
              'scope="repository:a/b:pull,push repository:c:pull"')
    (challenge,) = parse_challenges(header)
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.example.com/token"
    assert challenge.service == "registry.example.com"
    assert challenge.scopes == ("repository:a/b:pull,push", "repository:c:pull")


def test_several_challenges_prefer_bearer():
    header = 'Basic realm="r1", Bearer realm="https://t/x", service=svc, error="invalid_token"'
    challenges = parse_challenges(header)
    assert [c.scheme for c in challenges] == ["basic", "bearer"]
    picked = pick_challenge(header)
    assert picked.scheme == "bearer" and picked.service == "svc" and picked.error == "invalid_token"


def test_basic_and_escapes_and_garbage():
    assert pick_challenge('basic realm="a \\"quoted\\" realm"').realm == 'a "quoted" realm'
    assert pick_challenge(None) is None
    assert pick_challenge("") is None
    assert pick_challenge("Negotiate") is None
    assert parse_challenges("Negotiate")[0].scheme == "negotiate"
