"""GitLab CI tooling: lint, fix and generate pipelines that build images.

Modules, in the order data flows through them:

- (``mason.yamlio`` ruamel.yaml round-trip loading/dumping, shared with bake files)
- ``located``    values that remember file and line through merges
- ``pipeline``   a whole pipeline: ``include: local``, anchors/merge keys, ``extends``, ``!reference``
- ``shellwords`` a small POSIX-shell tokenizer for ``script`` entries
- ``invocation`` finding executor / ``mason build`` calls and their flags
- ``rules``      the lint rules (``lint(pipeline) -> list[Finding]``), one code per risk
- ``report``     lint output: text, JSON, GitLab Code Quality
- ``fixtext``    where block-YAML items start and end in the text
- ``fixpieces``  a script cut into pieces holding at most one build each
- ``fixusers``   the jobs that name a split job, and their edits
- ``fixer``      rewriting trapped jobs into one job per image (text splicing)
- ``generate``   a child pipeline from a bake file
"""
