"""The domain core: the answers contract, dates, segments, facts, questionnaire, rules and settings as data, definitions, languages, typed errors; plain Python.

A layer of the design (README.md, How it works); tests/whole/test_architecture.py checks that it imports
nothing from a layer above it."""
