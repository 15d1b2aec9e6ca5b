"""Signed tree heads and the log key.

Oracles: the Ed25519 test vectors of RFC 8032 §7.1 (TEST 1-3), run through :class:`Signer`; the
signed bytes rebuilt independently with the standard library's ``json`` (for these ASCII-only
values JCS is sorted keys with no whitespace) and checked with ``cryptography`` directly.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.errors import InvalidInput, VerificationError
from accord.ledger.heads import (
    SignedTreeHead,
    Signer,
    TreeHead,
    format_timestamp,
    key_id_for,
    public_key_from_json,
    public_key_json,
    sign_head,
    verify_head,
)
from accord.ledger.merkle import EMPTY_ROOT, MerkleTree

# RFC 8032 §7.1: (SECRET KEY, PUBLIC KEY, MESSAGE, SIGNATURE).
RFC8032_ED25519 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]

SEED = bytes.fromhex(RFC8032_ED25519[0][0])
OTHER_SEED = bytes.fromhex(RFC8032_ED25519[1][0])
STAMP = "2026-11-22T10:15:00Z"


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_ED25519)
def test_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    signer = Signer.from_seed(bytes.fromhex(secret))
    assert signer.public_key == bytes.fromhex(public)
    assert signer.sign(bytes.fromhex(message)) == bytes.fromhex(signature)
    assert signer.private_bytes() == bytes.fromhex(secret)
    assert signer.key_id == hashlib.sha256(bytes.fromhex(public)).hexdigest()


def _tree(n: int) -> MerkleTree:
    tree = MerkleTree()
    tree.append_many(i.to_bytes(4, "big") for i in range(n))
    return tree


def test_the_signature_covers_the_jcs_json_of_size_root_and_time() -> None:
    signer = Signer.from_seed(SEED)
    root = _tree(11).root()
    head = sign_head(signer, 11, root, STAMP)
    payload = json.dumps(
        {"tree_size": 11, "root_hash": root.hex(), "timestamp": STAMP},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    assert head.signing_payload() == payload
    # Checked with cryptography directly, not through verify_head.
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(RFC8032_ED25519[0][1])).verify(
        head.signature, payload
    )


def test_head_json_has_the_spec_fields() -> None:
    signer = Signer.from_seed(SEED)
    root = _tree(3).root()
    data = sign_head(signer, 3, root, STAMP).to_json()
    assert set(data) == {"tree_size", "root_hash", "timestamp", "signature", "key_id"}
    assert data["tree_size"] == 3
    assert data["root_hash"] == root.hex()
    assert data["timestamp"] == STAMP
    assert len(base64.b64decode(data["signature"], validate=True)) == 64
    assert data["key_id"] == signer.key_id
    # It survives a JSON round trip and verifies.
    parsed = verify_head(json.loads(json.dumps(data)), signer.public_key)
    assert parsed == SignedTreeHead.from_json(data)
    assert parsed.head == TreeHead(3, root, STAMP)


def test_the_empty_tree_has_a_head() -> None:
    signer = Signer.from_seed(SEED)
    head = verify_head(sign_head(signer, 0, EMPTY_ROOT, STAMP).to_json(), signer.public_key)
    assert (head.tree_size, head.root_hash) == (0, EMPTY_ROOT)


def test_key_json_round_trip() -> None:
    signer = Signer.from_seed(SEED)
    data = signer.public_key_json()
    assert data == {
        "key_id": hashlib.sha256(signer.public_key).hexdigest(),
        "public_key": base64.b64encode(bytes.fromhex(RFC8032_ED25519[0][1])).decode(),
    }
    assert public_key_from_json(data) == signer.public_key
    assert public_key_json(signer.public_key) == data
    assert key_id_for(signer.public_key) == signer.key_id


def test_a_generated_key_persists_through_its_seed() -> None:
    signer = Signer.generate()
    again = Signer.from_seed(signer.private_bytes())
    assert again.public_key == signer.public_key
    head = sign_head(again, 1, _tree(1).root(), STAMP)
    verify_head(head.to_json(), signer.public_key)
    assert signer.key_id in repr(signer)
    assert signer.private_bytes().hex() not in repr(signer)


# -- tampering ----------------------------------------------------------------------------------


def _signed(n: int = 7) -> tuple[Signer, dict[str, Any]]:
    signer = Signer.from_seed(SEED)
    return signer, sign_head(signer, n, _tree(n).root(), STAMP).to_json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tree_size", 8),
        ("root_hash", _tree(8).root().hex()),
        ("timestamp", "2026-11-22T10:15:01Z"),
    ],
)
def test_a_changed_field_breaks_the_signature(field: str, value: object) -> None:
    signer, data = _signed()
    data[field] = value
    with pytest.raises(VerificationError, match="tree head signature does not verify"):
        verify_head(data, signer.public_key)


def test_a_flipped_signature_byte_is_caught() -> None:
    signer, data = _signed()
    sig = bytearray(base64.b64decode(data["signature"]))
    for i in range(len(sig)):
        bad = bytearray(sig)
        bad[i] ^= 0x01
        data["signature"] = base64.b64encode(bad).decode()
        with pytest.raises(VerificationError, match="signature does not verify"):
            verify_head(data, signer.public_key)


def test_a_head_checked_with_the_wrong_key_is_caught() -> None:
    _, data = _signed()
    other = Signer.from_seed(OTHER_SEED)
    with pytest.raises(VerificationError, match=r"tree head names key .*, not the log key"):
        verify_head(data, other.public_key)
    # Claiming the other key's id does not help: the signature is still the first key's.
    data["key_id"] = other.key_id
    with pytest.raises(VerificationError, match="signature does not verify"):
        verify_head(data, other.public_key)


def test_a_head_signed_by_another_key_is_caught() -> None:
    signer = Signer.from_seed(SEED)
    forged = sign_head(Signer.from_seed(OTHER_SEED), 7, _tree(7).root(), STAMP).to_json()
    forged["key_id"] = signer.key_id
    with pytest.raises(VerificationError, match="signature does not verify"):
        verify_head(forged, signer.public_key)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"signature": None}, "signature: is missing"),
        ({"signature": "not base64!"}, "signature: is not valid base64"),
        ({"signature": base64.b64encode(b"x" * 63).decode()}, "signature: must decode to 64"),
        ({"root_hash": "AB" * 32}, "root_hash: must be 64 lowercase hex"),
        ({"root_hash": "ab" * 31}, "root_hash: must be 64 lowercase hex"),
        ({"tree_size": True}, "tree_size: must be a non-negative integer"),
        ({"tree_size": -1}, "tree_size: must be a non-negative integer"),
        ({"tree_size": "7"}, "tree_size: must be a non-negative integer"),
        ({"timestamp": "2026-11-22T11:15:00+01:00"}, "timestamp: must be an RFC 3339 UTC"),
        ({"timestamp": "2026-11-31T10:15:00Z"}, "timestamp: is not a valid time"),
        ({"key_id": "abc"}, "key_id: must be 64 lowercase hex"),
    ],
)
def test_a_malformed_head_fails_verification(change: dict[str, Any], message: str) -> None:
    signer, data = _signed()
    for k, v in change.items():
        if v is None:
            del data[k]
        else:
            data[k] = v
    with pytest.raises(VerificationError, match=f"tree head is malformed: {message}"):
        verify_head(data, signer.public_key)
    with pytest.raises(InvalidInput, match=message):
        SignedTreeHead.from_json(data)


def test_a_head_that_is_not_an_object_is_malformed() -> None:
    signer = Signer.from_seed(SEED)
    with pytest.raises(VerificationError, match="must be a JSON object"):
        verify_head([1, 2], signer.public_key)  # type: ignore[arg-type]


def test_bad_keys_are_refused() -> None:
    signer = Signer.from_seed(SEED)
    data = signer.public_key_json()
    with pytest.raises(InvalidInput, match="key_id: is not the SHA-256 of the public key"):
        public_key_from_json({**data, "key_id": "0" * 64})
    with pytest.raises(InvalidInput, match="public_key: must decode to 32 bytes, not 31"):
        public_key_from_json({**data, "public_key": base64.b64encode(b"k" * 31).decode()})
    with pytest.raises(InvalidInput, match="public_key: is missing"):
        public_key_from_json({"key_id": data["key_id"]})
    with pytest.raises(InvalidInput, match="public_key: must be 32 raw bytes"):
        verify_head(_signed()[1], signer.public_key[:31])
    with pytest.raises(InvalidInput, match="seed: must be 32 bytes"):
        Signer.from_seed(b"\x00" * 31)


def test_sign_head_refuses_bad_values() -> None:
    signer = Signer.from_seed(SEED)
    with pytest.raises(InvalidInput, match="root_hash: must be 32 bytes"):
        sign_head(signer, 1, b"\x00" * 31, STAMP)
    with pytest.raises(InvalidInput, match="tree_size: must be a non-negative integer"):
        sign_head(signer, -1, EMPTY_ROOT, STAMP)
    with pytest.raises(InvalidInput, match="timestamp: must be an RFC 3339 UTC"):
        sign_head(signer, 0, EMPTY_ROOT, "2026-11-22 10:15:00")


# -- timestamps ----------------------------------------------------------------------------------


def test_timestamps_are_rfc3339_utc() -> None:
    plus_one = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 11, 26, 23, 15, tzinfo=plus_one)) == (
        "2026-11-26T22:15:00Z"
    )
    assert format_timestamp(datetime(2026, 11, 26, 22, 15, 0, 120, tzinfo=UTC)) == (
        "2026-11-26T22:15:00.000120Z"
    )
    with pytest.raises(InvalidInput, match="timestamp: must carry a time zone"):
        format_timestamp(datetime(2026, 11, 26, 22, 15))
    signer = Signer.from_seed(SEED)
    head = sign_head(signer, 0, EMPTY_ROOT, datetime(2026, 11, 26, 22, 15, tzinfo=UTC))
    assert head.timestamp == "2026-11-26T22:15:00Z"
