"""From answers to a result: the durable_rules adapter, the independent evaluator, the kept decisions, the result contract and its builder, the patient's summary.

A layer of the design (README.md, How it works); tests/whole/test_architecture.py checks that it imports
nothing from a layer above it."""
