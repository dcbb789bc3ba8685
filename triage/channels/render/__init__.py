"""Renderings of results, catalogues and recorded intakes for people, by subject: ``result`` (terminal
text and Markdown), ``catalogues``, ``record`` (the clinician's `show`), ``html`` (a printable page),
with ``labels`` (status words, marks, rule bases; no rich) and ``terminal`` (the rich console set-up)
shared. Outer layer: reads results, never decides anything. The terminal and web layers both use it;
the core never imports it."""
