"""Signed values: a changed byte, another purpose, another key or a passed expiry are all refused."""

from bridge.shops import signing

KEY = "k" * 40


def test_a_signed_value_reads_back_until_it_expires() -> None:
    token = signing.sign(KEY, "p", {"s": "shop-a", "exp": 100})
    assert signing.verify(KEY, "p", token, now=99) == {"s": "shop-a", "exp": 100}
    assert signing.verify(KEY, "p", token, now=100) is None


def test_tampering_purpose_and_key_are_refused() -> None:
    token = signing.sign(KEY, "p", {"s": "shop-a", "exp": 100})
    body, _, mac = token.partition(".")
    other = signing.sign(KEY, "p", {"s": "shop-b", "exp": 100}).partition(".")[0]
    assert signing.verify(KEY, "p", f"{other}.{mac}", now=0) is None
    assert signing.verify(KEY, "q", token, now=0) is None
    assert signing.verify("j" * 40, "p", token, now=0) is None
    assert signing.verify(KEY, "p", body, now=0) is None
    assert signing.verify(KEY, "p", "", now=0) is None
    no_exp = signing.sign(KEY, "p", {"s": "shop-a"})
    assert signing.verify(KEY, "p", no_exp, now=0) is None
