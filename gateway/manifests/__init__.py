"""Manifests: the parcels expected on one inbound unit, imported from carrier files.

`model` checks headers and lines, `parsers` streams CSV and JSON lines with bounded memory,
`store` reads and writes the manifest tables, `importer` runs one file in one transaction.
"""
