"""GitLab CI tooling: lint, fix and generate pipelines that build images.

Modules, in the order data flows through them:

- ``yamlio``     ruamel.yaml round-trip loading/dumping with the project's settings
- ``located``    values that remember file and line through merges
- ``pipeline``   a whole pipeline: ``include: local``, anchors/merge keys, ``extends``, ``!reference``
- ``shellwords`` a small POSIX-shell tokenizer for ``script`` entries
- ``invocation`` finding executor / ``mason build`` calls and their flags
- ``rules``      the lint rules (``lint(pipeline) -> list[Finding]``)
- ``fixer``      rewriting trapped jobs into one job per image (text splicing)
- ``generate``   a child pipeline from a bake file
"""
