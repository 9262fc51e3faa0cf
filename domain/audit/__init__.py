"""The tamper-evident log: leaf hashes of stored events, the Merkle tree over them
(RFC 6962's shape), checkpoints and the checks an auditor runs. Pure: no I/O."""
