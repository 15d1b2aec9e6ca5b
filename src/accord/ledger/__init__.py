"""accord.ledger: the tamper-evident event log.

- :mod:`~accord.ledger.merkle`: the RFC 9162 Merkle tree, its roots and proofs of every size.
- :mod:`~accord.ledger.proofs`: verifying inclusion and consistency proofs (RFC 9162 §2.1.3.2,
  §2.1.4.2).
- :mod:`~accord.ledger.commitment`: leaves are salted commitments ``SHA-256(salt ‖ JCS(event))``.
- :mod:`~accord.ledger.heads`: Ed25519 signed tree heads and the log key.
- :mod:`~accord.ledger.verify`: the offline verifier a party runs against any server.
"""

from accord.ledger.commitment import (
    canonical_json,
    commitment,
    commitment_of_canonical,
    event_leaf_hash,
    new_salt,
    salt_from_hex,
)
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
from accord.ledger.merkle import EMPTY_ROOT, MerkleTree, leaf_hash, node_hash
from accord.ledger.proofs import (
    root_from_inclusion,
    roots_from_consistency,
    verify_consistency,
    verify_inclusion,
)
from accord.ledger.verify import LogSource, VerificationReport, verify_log

__all__ = [
    "EMPTY_ROOT",
    "LogSource",
    "MerkleTree",
    "SignedTreeHead",
    "Signer",
    "TreeHead",
    "VerificationReport",
    "canonical_json",
    "commitment",
    "commitment_of_canonical",
    "event_leaf_hash",
    "format_timestamp",
    "key_id_for",
    "leaf_hash",
    "new_salt",
    "node_hash",
    "public_key_from_json",
    "public_key_json",
    "root_from_inclusion",
    "roots_from_consistency",
    "salt_from_hex",
    "sign_head",
    "verify_consistency",
    "verify_head",
    "verify_inclusion",
    "verify_log",
]
