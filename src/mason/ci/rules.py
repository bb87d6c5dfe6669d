"""Lint rules for image builds in GitLab CI, each a function of one resolved job.

One rule per risk, each with a stable code (``RULES``: code -> check name, what it is about)
and a hint saying what to do. Every rule reports a real failure mode of Kaniko's executor
(read in its source) or of GitLab; nothing is reported "just in case". Severities: ``error``
and ``warning`` make ``mason ci lint`` fail; ``info`` (what the linter could not see) does not.

Several Kaniko builds in one container (``MASON001``/``MASON002``): Kaniko keeps the files a
multi-stage build saves for ``COPY --from`` under ``/kaniko/<stage index>`` and its stage
tarballs under ``/kaniko/stages``; ``/kaniko`` is on its ignore list, so neither the deletion
of the filesystem between stages nor ``--cleanup`` ever empties them, and the next build's
``/kaniko/0`` already holds the previous build's files (``pkg/executor/build.go``,
``pkg/util/fs_util.go``). Without ``--cleanup`` the last stage's filesystem also stays in the
container's root, and the next build unpacks its base on top of it. That happens with or
without the cache; with ``--cache=true`` the
layers holding the stray files are also pushed to the cache repository and served to later
pipelines, even after the job is fixed, which is why that case is the error.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from mason.ci.invocation import Invocation, commands_of, find_invocations
from mason.ci.pipeline import Job, Pipeline, variable_values

SECTIONS = ("before_script", "script", "after_script")
FAILING = frozenset({"error", "warning"})
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|_PASS$|TOKEN|SECRET|API_KEY|PRIVATE_KEY|AUTH_CONFIG|_AUTH$|CREDENTIAL)")
_VAR_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_PRINTERS = frozenset({"echo", "printf"})
_FILTERS = frozenset({"base64", "tr", "cat", "tee", "sed", "awk", "cut", "xxd", "od", "head", "tail", "jq"})
_KANIKO_IMAGE = re.compile(r"(^|/)kaniko-project/executor([:@]|$)")


RULES = {
    "MASON001": ("several-cached-kaniko-builds", "several Kaniko builds with --cache=true in one container"),
    "MASON002": ("several-kaniko-builds", "several Kaniko builds in one container, cache off"),
    "MASON003": ("several-mason-builds", "several mason builds in one job (breaks if run with Kaniko)"),
    "MASON004": ("cleanup-does-not-isolate", "--cleanup relied on to separate builds"),
    "MASON005": ("implicit-cache-repo", "--cache=true with several destinations and no --cache-repo"),
    "MASON006": ("no-push-cache", "--cache=true with --no-push and no --cache-repo"),
    "MASON007": ("credentials-in-log", "registry credentials printed to the job log"),
    "MASON008": ("kaniko-image-shell", "Kaniko image without a shell or with its entrypoint"),
    "MASON009": ("include-not-analysed", "include that cannot be read offline"),
}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str
    file: str
    line: int
    hint: str
    job: str

    def to_dict(self) -> dict:
        return asdict(self)

    def render(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: [{self.rule}] {self.message}\n    hint: {self.hint}"


def job_invocations(job: Job, pipeline: Pipeline) -> list[Invocation]:
    variables = {**variable_values(pipeline.variables()), **variable_values(job.config.get("variables") or {})}
    found: list[Invocation] = []
    for section in SECTIONS:
        found.extend(find_invocations(job.script_section(section), section, variables))
    return found


def build_count(invocations: list[Invocation]) -> int:
    """Builds run in the job's container: a call inside a shell loop runs once per item of a
    literal list, and is taken to run several times when the list is known only at run time."""
    return sum((inv.loop_runs if inv.loop_runs is not None else 2) if inv.in_loop else 1 for inv in invocations)


def is_trapped(invocations: list[Invocation]) -> bool:
    """Several builds in one container with the cache on: Kaniko's state from one build
    (``/kaniko/<stage>``, cache lookups keyed on it) leaks into the next (Kaniko #1829)."""
    return build_count(invocations) >= 2 and any(inv.cache_enabled for inv in invocations)


def needs_split(invocations: list[Invocation]) -> bool:
    """What ``mason ci fix`` splits: the cases of MASON001/MASON002 (Kaniko) and MASON003 (mason)."""
    if build_count(invocations) < 2:
        return False
    return is_trapped(invocations) or any(inv.kind == "kaniko" for inv in invocations)


def lint(pipeline: Pipeline) -> list[Finding]:
    findings: list[Finding] = []
    for inc in pipeline.unresolved_includes:
        findings.append(Finding("MASON009", "info", f"include: {inc.kind} {inc.value!r} was not analysed "
                                f"(only include: local is read offline)", inc.file, inc.line,
                                "lint the included file separately if it defines build jobs", ""))
    for job in pipeline.jobs.values():
        invocations = job_invocations(job, pipeline)
        findings.extend(_trap(job, invocations))
        findings.extend(_cleanup(job, invocations))
        findings.extend(_implicit_cache_repo(job, invocations))
        findings.extend(_no_push_cache(job, invocations))
        findings.extend(_credentials(job, pipeline))
        findings.extend(_kaniko_image(job, invocations))
    return sorted(findings, key=lambda f: (f.file, f.line, f.rule))


def _trap(job: Job, invocations: list[Invocation]) -> list[Finding]:
    if build_count(invocations) < 2:
        return []
    lines = ", ".join(str(inv.line) for inv in invocations)
    kinds = {inv.kind for inv in invocations}
    loop = " (one of them in a shell loop)" if any(inv.in_loop for inv in invocations) else ""
    root = ("" if all(inv.boolean("cleanup") for inv in invocations) else
            "; and without --cleanup the previous image's files stay in the container's root, where the "
            "next build unpacks its base and runs its RUN steps")
    if not is_trapped(invocations):
        if kinds == {"mason"}:
            return []   # mason isolates its builds; without the cache nothing is shared either
        return [Finding("MASON002", "warning",
                        f"job {job.name!r} runs {build_count(invocations)} executor builds in one container "
                        f"(lines {lines}){loop}: Kaniko saves the files of a multi-stage build for COPY --from "
                        f"under /kaniko/<stage> and never empties it (not even with --cleanup), so a later "
                        f"multi-stage build copies the earlier build's files into its image{root}; without the "
                        f"cache the damage stays in this pipeline's images", job.file, job.line,
                        "one build per job (`mason ci fix` splits it), or mason's image, whose builds are isolated",
                        job.name)]
    if kinds == {"mason"}:
        return [Finding("MASON003", "warning",
                        f"job {job.name!r} runs {build_count(invocations)} `mason build` calls with the cache on in "
                        f"one container (lines {lines}){loop}; safe with mason, but the job breaks if it is ever run "
                        f"with Kaniko's image", job.file, job.line,
                        "use `mason bake` to build them in parallel with one shared cache, or `mason ci fix` to "
                        "split the job", job.name)]
    return [Finding("MASON001", "error",
                    f"job {job.name!r} runs {build_count(invocations)} executor builds in one container with "
                    f"--cache=true (lines {lines}){loop}: Kaniko keeps build state under /kaniko/<stage> and the next "
                    f"image picks up the previous one's files (Kaniko #1829){root}; with the cache on, the layers "
                    f"holding them are pushed to the cache repository and reused by later pipelines", job.file, job.line,
                    "one build per job: `mason ci fix` splits it into a hidden template job and one job per image; "
                    "or switch the image to mason, whose builds are isolated", job.name)]


def _cleanup(job: Job, invocations: list[Invocation]) -> list[Finding]:
    if build_count(invocations) < 2:
        return []
    return [Finding("MASON004", "warning",
                    f"job {job.name!r}: --cleanup does not isolate the builds of one container: Kaniko never empties "
                    f"its per-stage state under /kaniko", inv.file, inv.line,
                    "run one build per job (mason ci fix), or use mason, which always cleans up", job.name)
            for inv in invocations if inv.boolean("cleanup")]


def _implicit_cache_repo(job: Job, invocations: list[Invocation]) -> list[Finding]:
    if build_count(invocations) < 2:
        return []
    out = []
    for inv in invocations:
        if inv.cache_enabled and len(inv.destinations) > 1 and not inv.values("cache-repo"):
            repo = _repository(inv.destinations[0])
            out.append(Finding("MASON005", "warning",
                               f"job {job.name!r}: --cache=true with {len(inv.destinations)} destinations and no "
                               f"--cache-repo: the cache goes to the first destination's repository ({repo}/cache), "
                               f"so the builds of this job each use a different, implicit cache", inv.file, inv.line,
                               "pass --cache-repo explicitly so every build shares one known cache", job.name))
    return out


def _no_push_cache(job: Job, invocations: list[Invocation]) -> list[Finding]:
    return [Finding("MASON006", "warning",
                    f"job {job.name!r}: --cache=true with --no-push and no --cache-repo: the cache repository is "
                    f"derived from --destination, which a build that is not pushed usually lacks, so layers are "
                    f"neither cached nor found", inv.file, inv.line,
                    "add --cache-repo REGISTRY/GROUP/cache (or --cache=false)", job.name)
            for inv in invocations if inv.cache_enabled and inv.boolean("no-push") and not inv.values("cache-repo")]


def _secrets_in(words) -> list[str]:
    names = []
    for word in words:
        names.extend(n for n in _VAR_REF.findall(word.raw) if _SECRET_NAME.search(n))
    return names


def _credentials(job: Job, pipeline: Pipeline) -> list[Finding]:
    out: list[Finding] = []
    variables = {**variable_values(pipeline.variables()), **variable_values(job.config.get("variables") or {})}
    debug_trace = variables.get("CI_DEBUG_TRACE", "").lower() == "true"
    # before_script and script run in one shell, after_script in a new one.
    for shell_sections in (("before_script", "script"), ("after_script",)):
        xtrace = False
        pairs = [p for s in shell_sections for p in commands_of(job.script_section(s))]
        for k, (entry, cmd) in enumerate(pairs):
            argv = cmd.argv
            if argv[0] == "set":
                xtrace = _xtrace(argv[1:], xtrace)
                continue
            secrets = _secrets_in(cmd.words)
            line = entry.line_at(cmd.line_offset)
            if secrets and (xtrace or debug_trace):
                why = "`set -x` traces" if xtrace else "CI_DEBUG_TRACE=true traces"
                out.append(Finding("MASON007", "error",
                                   f"job {job.name!r}: {why} this command with ${secrets[0]} expanded into the job log",
                                   entry.file, line, "turn tracing off (`set +x`) around commands that use credentials",
                                   job.name))
            elif secrets and argv[0] in _PRINTERS and _prints_to_log(pairs, k):
                out.append(Finding("MASON007", "error",
                                   f"job {job.name!r}: `{argv[0]}` prints ${secrets[0]} to the job log",
                                   entry.file, line, "redirect it into the file that needs it (e.g. > "
                                   "$DOCKER_CONFIG/config.json) or pipe it to a --password-stdin option", job.name))
            elif argv[0] in ("cat", "head", "tail", "more", "less") and any(
                    a.endswith(".docker/config.json") or a.endswith("/config.json") and "docker" in a
                    for a in argv[1:]) and _prints_to_log(pairs, k):
                out.append(Finding("MASON007", "error",
                                   f"job {job.name!r}: `{argv[0]}` prints a Docker config.json (registry credentials) "
                                   f"to the job log", entry.file, line,
                                   "do not print the credentials file; check it with `test -s` instead", job.name))
    return out


def _xtrace(args: list[str], current: bool) -> bool:
    for i, arg in enumerate(args):
        if arg in ("-o", "+o") and i + 1 < len(args) and args[i + 1] == "xtrace":
            current = arg == "-o"
        elif re.fullmatch(r"[-+][a-zA-Z]+", arg) and "x" in arg:
            current = arg.startswith("-")
    return current


def _prints_to_log(pairs, k: int) -> bool:
    """Whether command ``k``'s output reaches the log: follow its pipe through filters."""
    while True:
        cmd = pairs[k][1]
        if cmd.stdout_redirected():
            return False
        if not cmd.piped:
            return True
        if k + 1 >= len(pairs):
            return True
        k += 1
        nxt = pairs[k][1]
        if nxt.argv[0].rsplit("/", 1)[-1] not in _FILTERS:
            return False  # consumed by a program (docker login --password-stdin, ...)


def _kaniko_image(job: Job, invocations: list[Invocation]) -> list[Finding]:
    from mason.ci.invocation import expand

    image = job.config.get("image")
    name = image.get("name") if isinstance(image, dict) else image
    if not isinstance(name, str):
        return []
    variables = {**variable_values(job.config.get("variables") or {})}
    name = expand(str(name), variables)   # GitLab expands image: with the job's variables
    if not _KANIKO_IMAGE.search(name):
        return []
    line = job.config.key_line("image") if "image" in job.config else job.line
    file = getattr(image, "file", job.file) if isinstance(image, dict) else getattr(name, "file", job.file)
    out = []
    tag = name.rsplit("/", 1)[-1].partition(":")[2].partition("@")[0]
    if "debug" not in tag and "$" not in tag:     # a tag still unknown here is not judged
        out.append(Finding("MASON008", "error",
                           f"job {job.name!r}: image {name} has no shell (only the :debug variant has busybox), but "
                           f"GitLab runs the job's script with a shell", file, line,
                           "use gcr.io/kaniko-project/executor:debug (or mason's image)", job.name))
    entrypoint = image.get("entrypoint") if isinstance(image, dict) else None
    # Any entrypoint of the job's own replaces the image's /kaniko/executor (["sh", "-c"] runs the
    # script too); only none at all, or the executor itself, hands the script to the executor.
    own = [str(e) for e in entrypoint] if isinstance(entrypoint, list) else None
    if own is None or (own and own[0].rsplit("/", 1)[-1] == "executor"):
        out.append(Finding("MASON008", "error",
                           f"job {job.name!r}: image {name} has /kaniko/executor as its entrypoint; without "
                           f"`entrypoint: [\"\"]` the runner's shell script is handed to the executor", file, line,
                           "set image: {name: ..., entrypoint: [\"\"]}", job.name))
    return out


def _repository(reference: str) -> str:
    ref = reference.partition("@")[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    return ref[:colon] if colon > slash else ref
