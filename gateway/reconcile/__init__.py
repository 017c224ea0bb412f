"""Reconciliation: every stored parcel judged against the open manifests and the holds.

`verdict` is the pure decision (match, weight tolerance with the scale's error), `matcher`
reads what a batch of parcels needs in a few queries and writes their verdicts.
"""
