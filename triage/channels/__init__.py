"""The ways in and out: the terminal (cli/), the web pages (web/), renderings for people (render/), batch, the service's configuration.

A layer of the design (README.md, How it works); tests/whole/test_architecture.py checks that it imports
nothing from a layer above it."""
