"""``mason ci lint|fix|generate``: GitLab CI pipelines that build images."""

from __future__ import annotations

import sys


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="ci_command", metavar="ACTION", required=True)
    lint = sub.add_parser("lint", help="report image-build pitfalls (exit 1 on errors or warnings)")
    lint.add_argument("file", help="the pipeline, e.g. .gitlab-ci.yml")
    lint.add_argument("--format", choices=("text", "json", "codequality"), default="text",
                      help="codequality: GitLab's Code Quality report (artifacts:reports:codequality)")
    lint.add_argument("-o", "--output", help="write the report here instead of stdout")
    lint.add_argument("--root", help="repository root for include: local (default: the file's directory)")
    fix = sub.add_parser("fix", help="split jobs that run several builds in one container into one job per image")
    fix.add_argument("file")
    fix.add_argument("--diff", action="store_true", help="print a unified diff instead of writing")
    fix.add_argument("-o", "--output", help="write the result here instead of over FILE ('-' for stdout)")
    fix.add_argument("--root", help="repository root for include: local (default: the file's directory)")
    gen = sub.add_parser("generate", help="emit a GitLab CI child pipeline building a bake file's images")
    gen.add_argument("bakefile")
    gen.add_argument("-o", "--output", help="write the pipeline here (default: stdout)")
    gen.add_argument("--root", help="repository root, where the job's CI_PROJECT_DIR points "
                                    "(default: the bake file's directory)")
    gen.add_argument("--mason-image", help="mason image the jobs run (default: the published one)")
    gen.add_argument("--runner-tag", action="append", default=[], metavar="PLATFORM=TAG[,TAG]",
                     help="runner tags for the jobs of images with that platform, e.g. linux/arm64=arm64")


def run(args) -> int:
    return {"lint": _lint, "fix": _fix, "generate": _generate}[args.ci_command](args)


def _lint(args) -> int:
    from pathlib import Path

    from mason.ci.pipeline import load_pipeline
    from mason.ci.report import render_codequality, render_json, render_text
    from mason.ci.rules import FAILING, lint

    pipeline = load_pipeline(args.file, args.root)
    findings = lint(pipeline)
    if args.format == "json":
        text = render_json(args.file, findings)
    elif args.format == "codequality":
        text = render_codequality(findings, pipeline.root)
    else:
        text = render_text(args.file, findings)
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 1 if any(f.severity in FAILING for f in findings) else 0


def _fix(args) -> int:
    from pathlib import Path

    from mason.ci.fixer import fix_file

    result = fix_file(args.file, args.root)
    for why in result.refused.values():
        print(f"{args.file}: not fixed: {why}", file=sys.stderr)
    for job, names in result.fixed.items():
        print(f"{args.file}: split {job!r} into {', '.join(names)}", file=sys.stderr)
    if args.diff:
        sys.stdout.write(result.diff(args.file))
    elif args.output == "-":
        sys.stdout.write(result.text)
    elif result.changed or args.output:
        target = Path(args.output or args.file)
        target.write_text(result.text, encoding="utf-8")
    elif not result.refused:
        print(f"{args.file}: nothing to fix", file=sys.stderr)
    return 1 if result.refused else 0


def _generate(args) -> int:
    from pathlib import Path

    from mason.bake.model import load_bake
    from mason.ci.generate import DEFAULT_MASON_IMAGE, generate_pipeline

    from mason.errors import UsageError

    runner_tags: dict[str, list[str]] = {}
    for raw in args.runner_tag:
        platform, eq, tags = raw.partition("=")
        names = [t.strip() for t in tags.split(",") if t.strip()]
        if not eq or not platform or not names:
            raise UsageError(f"--runner-tag {raw!r}: write PLATFORM=TAG[,TAG...], e.g. linux/arm64=arm64")
        runner_tags.setdefault(platform, []).extend(names)
    bake = load_bake(args.bakefile)
    text = generate_pipeline(bake, root=Path(args.root) if args.root else None,
                             mason_image=args.mason_image or DEFAULT_MASON_IMAGE, source=args.bakefile,
                             runner_tags=runner_tags)
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
