"""The auditor's toolkit over a ledger's store: checkpoints, verification, proofs."""
