"""``lsqa demo``: the whole QA loop on one machine in a few minutes.

A local Label Studio (installed once into the harness cache), the service on SQLite, a demo project
with a gold library, and simulated annotators, one of whom systematically mislabels one class.
Pure parts: :mod:`.content` (label config, texts, gold export), :mod:`.config` (the service's YAML),
:mod:`.simulate` (what each simulated person answers). :mod:`.run` puts them together.
"""
