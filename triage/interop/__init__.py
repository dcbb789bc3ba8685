"""Interoperability with an EHR: FHIR resources, CDS Hooks, de-identified exports.

A layer of the design (README.md, How it works); tests/whole/test_architecture.py checks that it imports
nothing from a layer above it."""
