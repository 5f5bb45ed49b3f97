"""The opt-in LLM path of ``lester rewrite``: the paper's prompt chain plus an agent loop.

Nothing here runs unless a caller asks for it (the CLI's ``--llm``): :func:`rewrite_with_llm`
sends the script to an OpenAI-compatible endpoint (any: OpenAI, a local vLLM / Ollama /
llama.cpp server) through the ``openai`` package, assembles the answers into one pipeline
module, checks it statically (:mod:`lester.rewrite.static_checks`), has the caller's
verifier run it against the original script, and feeds the first failure back, for up to
``max_rounds`` rounds. The result records per round which prompts were sent, how much, and
what became of the answer.

Configuration comes from :func:`load_llm_config`: ``LESTER_LLM_MODEL``, ``OPENAI_BASE_URL``
and ``OPENAI_API_KEY``, or a config file. See ``docs/rewrite-llm.md``.

Examples
--------
>>> extract_code("Here it is:\\n```python\\nx = 1\\n```\\nEnjoy.")
'x = 1'
>>> config = LLMConfig(model="m", base_url="http://127.0.0.1:8000/v1", api_key=None)
>>> config.endpoint
'http://127.0.0.1:8000/v1'
"""

from __future__ import annotations

import ast
import os
import re
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from lester.errors import LesterError
from lester.pipeline import CONTRACT
from lester.rewrite import prompts
from lester.rewrite.prompts import Prompt
from lester.rewrite.static_checks import StaticCheckReport, check_pipeline_code

ENV_MODEL = "LESTER_LLM_MODEL"
ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_API_KEY = "OPENAI_API_KEY"
ENV_TIMEOUT = "LESTER_LLM_TIMEOUT"
DEFAULT_ENDPOINT = "https://api.openai.com/v1"
#: Feedback longer than this is cut before it is sent back.
MAX_FEEDBACK_CHARS = 4000

_FILE_KEYS = (
    "model",
    "base_url",
    "api_key",
    "api_key_env",
    "timeout_s",
    "max_retries",
    "temperature",
    "sample_lines",
)


class LLMConfigError(LesterError, ValueError):
    """No usable LLM configuration (nothing set, a bad file, a bad value)."""


class LLMRewriteError(LesterError, ValueError):
    """Bad input to :func:`rewrite_with_llm` (a missing script or source)."""


class Verdict(Protocol):
    """What the loop needs from the verifier's verdict (``lester.rewrite.verify``)."""

    @property
    def equivalent(self) -> bool: ...

    def summary(self) -> str: ...

    def feedback(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


# ---------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class LLMConfig:
    """Which model to ask, where, and how patiently.

    ``base_url`` None means OpenAI's own endpoint; ``api_key`` may be None for a local
    server. ``sample_lines`` is how many first lines of each source file are sent so the
    model sees the file layout (0 sends none). The key is never shown or reported.

    Examples
    --------
    >>> config = LLMConfig(model="gpt-4o", base_url=None, api_key="sk-secret")
    >>> "sk-secret" in repr(config), config.endpoint
    (False, 'https://api.openai.com/v1')
    """

    model: str
    base_url: str | None
    api_key: str | None = field(repr=False)
    timeout_s: float = 120
    max_retries: int = 1
    temperature: float = 0.0
    sample_lines: int = 1
    origin: str = "arguments"

    @property
    def endpoint(self) -> str:
        """The base URL requests go to."""
        return self.base_url or DEFAULT_ENDPOINT

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form without the key.

        Examples
        --------
        >>> sorted(LLMConfig("m", None, "k").to_dict())[:3]
        ['api_key_set', 'base_url', 'max_retries']
        """
        data = asdict(self)
        data["api_key_set"] = data.pop("api_key") is not None
        return data


def default_config_paths() -> list[Path]:
    """Where :func:`load_llm_config` looks for a file when none is given: ``./lester.toml``
    (its ``[llm]`` table), then ``$XDG_CONFIG_HOME/lester/llm.toml`` (default
    ``~/.config/lester/llm.toml``).

    Examples
    --------
    >>> [path.name for path in default_config_paths()]
    ['lester.toml', 'llm.toml']
    """
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path.cwd() / "lester.toml", Path(config_home) / "lester" / "llm.toml"]


def load_llm_config(path: Path | None = None) -> LLMConfig:
    """The LLM configuration from a file and the environment.

    Precedence: an explicit ``path``, then the environment (``LESTER_LLM_MODEL``,
    ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``LESTER_LLM_TIMEOUT``), then the first
    file of :func:`default_config_paths` that has LLM settings. A file holds the keys
    ``model``, ``base_url``, ``api_key`` or ``api_key_env`` (the name of a variable holding
    the key), ``timeout_s``, ``max_retries``, ``temperature``, ``sample_lines``, at top
    level or in an ``[llm]`` table. Loading sends nothing.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = Path(folder, "llm.toml")
    >>> _ = path.write_text('[llm]\\nmodel = "qwen"\\nbase_url = "http://127.0.0.1:8000/v1"\\n')
    >>> load_llm_config(path).model
    'qwen'
    """
    values: dict[str, Any] = {}
    origins: list[str] = []
    if path is None:
        default = next((p for p in default_config_paths() if _file_settings(p)), None)
        if default is not None:
            values.update(_file_settings(default))
            origins.append(str(default))
    environment = _environment_settings()
    values.update(environment)
    origins += [
        name for name in (ENV_MODEL, ENV_BASE_URL, ENV_API_KEY, ENV_TIMEOUT) if os.environ.get(name)
    ]
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise LLMConfigError(f"LLM config file {path} does not exist")
        values.update(_file_settings(path, required=True))
        origins.insert(0, str(path))
    return _build_config(values, " + ".join(origins) or "nothing")


def _environment_settings() -> dict[str, Any]:
    names = {ENV_MODEL: "model", ENV_BASE_URL: "base_url", ENV_API_KEY: "api_key"}
    settings = {key: os.environ[name] for name, key in names.items() if os.environ.get(name)}
    if os.environ.get(ENV_TIMEOUT):
        settings["timeout_s"] = os.environ[ENV_TIMEOUT]
    return settings


def _file_settings(path: Path, required: bool = False) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise LLMConfigError(f"LLM config file {path} is not valid TOML: {error}") from None
    table = document.get("llm")
    if table is None and path.name != "lester.toml":
        table = {k: v for k, v in document.items() if not isinstance(v, dict)}
    if not isinstance(table, dict) or not table:
        if required:
            raise LLMConfigError(f"LLM config file {path} has no [llm] table or LLM keys")
        return {}
    unknown = sorted(set(table) - set(_FILE_KEYS))
    if unknown:
        raise LLMConfigError(
            f"LLM config file {path} has unknown keys {unknown}; the keys are {list(_FILE_KEYS)}"
        )
    settings = dict(table)
    key_variable = settings.pop("api_key_env", None)
    if key_variable is not None and "api_key" not in settings:
        if not os.environ.get(str(key_variable)):
            raise LLMConfigError(
                f"LLM config file {path} reads the API key from ${key_variable}, which is not set"
            )
        settings["api_key"] = os.environ[str(key_variable)]
    return settings


def _build_config(values: Mapping[str, Any], origin: str) -> LLMConfig:
    if not values.get("model"):
        paths = " or ".join(str(p) for p in default_config_paths())
        raise LLMConfigError(
            f"no LLM is configured: set {ENV_MODEL} (the model name), {ENV_BASE_URL} (the "
            f"OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1; default "
            f"{DEFAULT_ENDPOINT}) and {ENV_API_KEY} (if the endpoint needs a key), or write "
            f'model = "..." into the [llm] table of {paths}'
        )
    if not values.get("base_url") and not values.get("api_key"):
        raise LLMConfigError(
            f"{ENV_API_KEY} is not set: the default endpoint {DEFAULT_ENDPOINT} needs a key; "
            f"for a local OpenAI-compatible server set {ENV_BASE_URL}"
        )
    try:
        config = LLMConfig(
            model=str(values["model"]),
            base_url=str(values["base_url"]) if values.get("base_url") else None,
            api_key=str(values["api_key"]) if values.get("api_key") else None,
            timeout_s=float(values.get("timeout_s", 120)),
            max_retries=int(values.get("max_retries", 1)),
            temperature=float(values.get("temperature", 0.0)),
            sample_lines=int(values.get("sample_lines", 1)),
            origin=origin,
        )
    except (TypeError, ValueError) as error:
        raise LLMConfigError(f"bad LLM setting in {origin}: {error}") from None
    if config.timeout_s <= 0 or config.max_retries < 0 or config.sample_lines < 0:
        raise LLMConfigError(
            f"bad LLM setting in {origin}: timeout_s must be > 0, max_retries and sample_lines "
            f">= 0 (got {config.timeout_s}, {config.max_retries}, {config.sample_lines})"
        )
    return config


# ---------------------------------------------------------------------------- answers to code
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(answer: str | None) -> str | None:
    """The Python code of an answer: its fenced blocks joined, else the whole answer;
    None when it holds nothing.

    Examples
    --------
    >>> extract_code("```python\\na = 1\\n```\\ntext\\n```\\nb = 2\\n```")
    'a = 1\\n\\nb = 2'
    >>> extract_code("   ") is None
    True
    """
    if answer is None or not answer.strip():
        return None
    blocks = [block.strip("\n") for block in _FENCE.findall(answer)]
    blocks = [block for block in blocks if block.strip()]
    if blocks:
        return "\n\n".join(blocks)
    if "```" in answer:
        return None
    return answer.strip()


def assemble_module(parts: Sequence[str], header: str = "") -> str:
    """One pipeline module from the answers' code: imports first (each once), then the
    other statements in order, identical definitions once. Parts that do not parse are
    concatenated as they are, so the syntax error is reported in the module.

    Examples
    --------
    >>> print(assemble_module(["import numpy as np\\ndef f():\\n    return 1",
    ...                        "import numpy as np\\nimport re\\ndef g():\\n    return 2"]))
    import numpy as np
    import re
    <BLANKLINE>
    <BLANKLINE>
    def f():
        return 1
    <BLANKLINE>
    <BLANKLINE>
    def g():
        return 2
    <BLANKLINE>
    """
    docstring = f'"""{header}"""\n\n' if header else ""
    try:
        trees = [(part, ast.parse(part)) for part in parts]
    except SyntaxError:
        return docstring + "\n\n\n".join(part.strip("\n") for part in parts) + "\n"
    future: list[str] = []
    imports: list[str] = []
    body: list[str] = []
    for part, tree in trees:
        lines = part.splitlines()
        for statement in tree.body:
            if _is_docstring(statement):
                continue
            start = min([statement.lineno] + [d.lineno for d in _decorators(statement)])
            text = "\n".join(lines[start - 1 : statement.end_lineno])
            if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                target = future
            elif isinstance(statement, ast.Import | ast.ImportFrom):
                target = imports
            else:
                target = body
            if text not in target:
                target.append(text)
    head = "\n".join(future + imports)
    return docstring + head + "\n\n\n" + "\n\n\n".join(body) + "\n"


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def _decorators(statement: ast.stmt) -> list[ast.expr]:
    return list(getattr(statement, "decorator_list", []))


# ---------------------------------------------------------------------------- results
class RoundStatus(StrEnum):
    """What became of a round's answer."""

    ACCEPTED = "accepted"
    SYNTAX_ERROR = "syntax error"
    FORBIDDEN_API = "forbidden API"
    STATIC_CHECK_FAILURE = "static-check failure"
    VERIFIER_REJECTED = "verifier rejected"
    VERIFIER_ERROR = "verifier error"
    NO_CODE = "no code"
    TIMEOUT = "timeout"
    HTTP_ERROR = "http error"
    CONNECTION_ERROR = "connection error"


@dataclass
class SentRequest:
    """One chat request: which prompt, how many messages and characters went out, what
    came back (characters) and how long it took; ``error`` when it failed.

    Examples
    --------
    >>> SentRequest("labels", messages=2, chars_sent=1200).describe()
    'labels (2 messages, 1,200 chars sent)'
    """

    prompt: str
    messages: int
    chars_sent: int
    chars_received: int = 0
    seconds: float = 0.0
    error: str | None = None

    def describe(self) -> str:
        """A one-line description for the report."""
        text = f"{self.prompt} ({self.messages} messages, {self.chars_sent:,} chars sent"
        if self.chars_received:
            text += f", {self.chars_received:,} received"
        text += ")"
        return text + (f": {self.error}" if self.error else "")


@dataclass
class LLMRound:
    """One round: the requests sent, the status of the resulting module and the feedback
    that went back (when it failed).

    Examples
    --------
    >>> LLMRound(1, status=RoundStatus.TIMEOUT, detail="no answer within 2s").describe()
    'round 1: no requests: timeout: no answer within 2s'
    """

    number: int
    requests: list[SentRequest] = field(default_factory=list)
    status: RoundStatus | None = None
    detail: str = ""
    feedback: str = ""
    code_chars: int = 0
    warnings: list[str] = field(default_factory=list)
    verdict: dict[str, Any] | None = None

    @property
    def chars_sent(self) -> int:
        """Characters sent in this round, over all its requests."""
        return sum(request.chars_sent for request in self.requests)

    def describe(self) -> str:
        """One line: prompts, sizes, status."""
        if self.requests:
            names = ", ".join(request.prompt for request in self.requests)
            received = sum(request.chars_received for request in self.requests)
            count = len(self.requests)
            sent = (
                f"{count} request{'s' if count > 1 else ''} ({names}), "
                f"{self.chars_sent:,} chars sent, {received:,} received"
            )
        else:
            sent = "no requests"
        status = self.status.value if self.status else "unfinished"
        return f"round {self.number}: {sent}: {status}" + (
            f": {self.detail}" if self.detail else ""
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        data = asdict(self)
        data["status"] = self.status.value if self.status else None
        return data


@dataclass
class LLMRewriteResult:
    """The outcome: ``code`` is the accepted module (None when no round was accepted),
    ``candidate`` the last module that was checked, ``verdict`` the last verdict, ``error``
    why the loop stopped early (the verifier could not run).

    Examples
    --------
    >>> result = LLMRewriteResult(code=None, verdict=None, rounds=[], max_rounds=2,
    ...                           config=LLMConfig("m", "http://127.0.0.1:1/v1", None))
    >>> result.verified, result.report_lines()[-1]
    (False, 'LLM rewrite NOT verified after 0 of 2 rounds')
    """

    code: str | None
    verdict: Verdict | None
    rounds: list[LLMRound]
    max_rounds: int
    config: LLMConfig
    candidate: str | None = None
    sent: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def verified(self) -> bool:
        """True when a round's module was accepted by the verifier."""
        return self.code is not None

    def report_lines(self) -> list[str]:
        """The report: endpoint, what was sent, one line per round, the outcome."""
        lines = [
            f"LLM rewrite with model {self.config.model!r} at {self.config.endpoint} "
            f"(at most {self.max_rounds} rounds)"
        ]
        lines += [f"sent: {item}" for item in self.sent]
        for llm_round in self.rounds:
            lines.append(llm_round.describe())
            lines += [f"  warning: {warning}" for warning in llm_round.warnings]
        if self.error:
            lines.append(f"LLM rewrite stopped in round {len(self.rounds)}: {self.error}")
        elif self.verified:
            lines.append(f"LLM rewrite verified equivalent in round {len(self.rounds)}")
        else:
            lines.append(
                f"LLM rewrite NOT verified after {len(self.rounds)} of {self.max_rounds} rounds"
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the accepted code included, the key never)."""
        return {
            "verified": self.verified,
            "code": self.code,
            "candidate": self.candidate,
            "verdict": self.verdict.to_dict() if self.verdict is not None else None,
            "rounds": [llm_round.to_dict() for llm_round in self.rounds],
            "max_rounds": self.max_rounds,
            "config": self.config.to_dict(),
            "sent": list(self.sent),
            "error": self.error,
        }


# ---------------------------------------------------------------------------- the loop
def rewrite_with_llm(
    script: Path,
    *,
    sources: dict[str, Path],
    config: LLMConfig | None = None,
    max_rounds: int = 4,
    verify: Callable[[str], Verdict],
    progress: Callable[[str], None] | None = None,
    output_columns: Sequence[str] | None = None,
) -> LLMRewriteResult:
    """Rewrite ``script`` with an LLM and keep asking until ``verify`` accepts the module.

    Round 1 sends the prompt chain (data preparation and its three refinements, feature
    encoding, labels) and assembles the answers; each later round sends the first failure
    (syntax error, forbidden API, failed static check, the verifier's feedback) and asks
    for the corrected module. A timeout or HTTP error ends its round and the next round
    re-sends the same request; a verifier that raises (it cannot run, e.g. the original
    script fails) stops the loop with ``result.error``. ``sources`` maps source names to
    their files (their names, and ``config.sample_lines`` first lines of each, are sent);
    ``verify`` receives the module's code. ``config`` defaults to :func:`load_llm_config`.

    Examples
    --------
    >>> rewrite_with_llm(Path("no-such-script.py"), sources={}, verify=print)
    Traceback (most recent call last):
    ...
    lester.rewrite.llm.LLMRewriteError: script no-such-script.py does not exist
    """
    script = Path(script)
    if not script.is_file():
        raise LLMRewriteError(f"script {script} does not exist")
    missing = {name: str(path) for name, path in sources.items() if not Path(path).is_file()}
    if missing:
        raise LLMRewriteError(f"source files do not exist: {missing}")
    if max_rounds < 1:
        raise LLMRewriteError(f"max_rounds must be at least 1, got {max_rounds}")
    config = config or load_llm_config()
    session = _Session(script, sources, config, output_columns, progress or (lambda _: None))
    result = LLMRewriteResult(
        code=None,
        verdict=None,
        rounds=[],
        max_rounds=max_rounds,
        config=config,
        sent=session.sent_description(),
    )
    for number in range(1, max_rounds + 1):
        llm_round = LLMRound(number)
        result.rounds.append(llm_round)
        candidate = session.next_candidate(llm_round, max_rounds)
        if candidate is None:
            continue
        result.candidate = candidate
        verdict = session.check(candidate, llm_round, verify)
        if verdict is not None:
            result.verdict = verdict
        if llm_round.status is RoundStatus.ACCEPTED:
            result.code = candidate
            break
        if session.verifier_error is not None:
            result.error = f"the verifier could not run: {session.verifier_error}"
            break
    session.progress(result.report_lines()[-1])
    return result


class _Session:
    """The conversations of one rewrite and where they stand."""

    def __init__(
        self,
        script: Path,
        sources: Mapping[str, Path],
        config: LLMConfig,
        output_columns: Sequence[str] | None,
        progress: Callable[[str], None],
    ) -> None:
        import openai  # the llm extra; imported here so the offline path never needs it

        self.openai = openai
        self.client = openai.OpenAI(
            api_key=config.api_key or "no-key",
            base_url=config.base_url or DEFAULT_ENDPOINT,
            timeout=config.timeout_s,
            max_retries=config.max_retries,
        )
        self.config, self.progress = config, progress
        self.script_path = script
        self.script = script.read_text(encoding="utf-8")
        self.sources = {name: Path(path) for name, path in sources.items()}
        self.samples = {
            path.name: _first_lines(path, config.sample_lines) for path in self.sources.values()
        }
        self.chain = self._chain(output_columns)
        self.chain_position = 0
        self.parts: dict[str, str] = {}
        self.repair_messages: list[dict[str, str]] = []
        self.conversations: dict[str, list[dict[str, str]]] = {}
        self.pending: Prompt | None = None
        self.pending_name = "repair"
        self.candidate: str | None = None
        self.verifier_error: str | None = None

    def _chain(self, output_columns: Sequence[str] | None) -> list[tuple[str, Prompt, str]]:
        """(conversation, prompt, part) per step; the refinements continue the dataprep
        conversation, features and labels start their own, as in the paper."""
        files = {name: path.name for name, path in self.sources.items()}
        samples = {k: v for k, v in self.samples.items() if v}
        return [
            (
                "dataprep",
                prompts.dataprep_prompt(
                    self.script, sources=files, output_columns=output_columns, samples=samples
                ),
                "dataprep",
            ),
            ("dataprep", prompts.local_variables_prompt(), "dataprep"),
            ("dataprep", prompts.method_names_prompt(), "dataprep"),
            ("dataprep", prompts.path_parameters_prompt(files), "dataprep"),
            (
                "features",
                prompts.features_prompt(self.script, output_columns=output_columns),
                "features",
            ),
            (
                "labels",
                prompts.labels_prompt(self.script, output_columns=output_columns),
                "labels",
            ),
        ]

    def sent_description(self) -> list[str]:
        sent = [
            f"the script {self.script_path.name} ({len(self.script):,} chars) in each prompt of "
            f"round 1 and in the first repair prompt"
        ]
        with_samples = [name for name, lines in self.samples.items() if lines]
        if with_samples:
            sent.append(
                f"the first {self.config.sample_lines} line(s) of {', '.join(with_samples)}"
            )
        else:
            sent.append("no line of any source file")
        sent.append("after a failed round: the error, failed check or first differing output rows")
        return sent

    # ------------------------------------------------------------------ asking
    def next_candidate(self, llm_round: LLMRound, max_rounds: int) -> str | None:
        self.progress(f"LLM round {llm_round.number}/{max_rounds}")
        if self.chain_position < len(self.chain):
            if not self._run_chain(llm_round):
                return None
            header = (
                f"Lester pipeline rewritten from {self.script_path.name} by "
                f"{self.config.model} (lester rewrite --llm)."
            )
            parts = [self.parts.get(k, "") for k in ("dataprep", "features", "labels")]
            self.candidate = assemble_module([p for p in parts if p], header=header)
            return self.candidate
        if self.pending is not None:
            self.repair_messages.append({"role": "user", "content": self.pending.text})
            self.pending_name, self.pending = self.pending.name, None
        answer = self._ask(llm_round, self.pending_name, self.repair_messages)
        if answer is None:
            return None
        self.repair_messages.append({"role": "assistant", "content": answer})
        code = extract_code(answer)
        if code is None:
            feedback = "Your answer held no Python code; answer with the complete module."
            self._fail(llm_round, RoundStatus.NO_CODE, "the answer holds no Python code", feedback)
            return None
        self.candidate = code
        return code

    def _run_chain(self, llm_round: LLMRound) -> bool:
        while self.chain_position < len(self.chain):
            name, prompt, part = self.chain[self.chain_position]
            messages = self.conversations.setdefault(
                name, [{"role": "system", "content": prompts.SYSTEM_PROMPT}]
            )
            if messages[-1]["role"] != "user":
                messages.append({"role": "user", "content": prompt.text})
            answer = self._ask(llm_round, prompt.name, messages)
            if answer is None:
                return False
            messages.append({"role": "assistant", "content": answer})
            code = extract_code(answer)
            if code is not None:
                self.parts[part] = code
            self.chain_position += 1
        return True

    def _ask(
        self, llm_round: LLMRound, prompt_name: str, messages: list[dict[str, str]]
    ) -> str | None:
        """Send one chat request; None (and the round's status set) when it failed."""
        request = SentRequest(
            prompt=prompt_name,
            messages=len(messages),
            chars_sent=sum(len(m["content"]) for m in messages),
        )
        llm_round.requests.append(request)
        self.progress(f"  asking {request.describe()}")
        started = time.monotonic()
        try:
            response = self.client.chat.completions.create(
                model=self.config.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=self.config.temperature,
            )
            answer = response.choices[0].message.content or ""
        except self.openai.APITimeoutError:
            status, error = RoundStatus.TIMEOUT, f"no answer within {self.config.timeout_s:g}s"
        except self.openai.APIStatusError as failure:
            status, error = RoundStatus.HTTP_ERROR, f"HTTP {failure.status_code}: {failure}"
        except self.openai.APIConnectionError as failure:
            status, error = RoundStatus.CONNECTION_ERROR, f"{failure} ({self.config.endpoint})"
        except (self.openai.OpenAIError, IndexError, AttributeError) as failure:
            status, error = RoundStatus.HTTP_ERROR, f"unusable answer: {failure}"
        else:
            request.seconds = time.monotonic() - started
            request.chars_received = len(answer)
            return answer
        request.seconds = time.monotonic() - started
        request.error = error
        llm_round.status, llm_round.detail = status, error
        self.progress(f"  {status.value}: {error}")
        return None

    # ------------------------------------------------------------------ checking
    def check(
        self, candidate: str, llm_round: LLMRound, verify: Callable[[str], Verdict]
    ) -> Verdict | None:
        llm_round.code_chars = len(candidate)
        report = check_pipeline_code(
            candidate, source_names=list(self.sources), required_functions=CONTRACT
        )
        llm_round.warnings = [issue.render() for issue in report.warnings]
        if not report.ok:
            self._fail(
                llm_round, _static_status(report), report.errors[0].render(), report.feedback()
            )
            return None
        self.progress("  static checks passed; verifying")
        try:
            verdict = verify(candidate)
        except Exception as error:
            # The verifier itself cannot run (e.g. the original script fails): no answer of
            # the model can fix that, so the loop stops and says why instead of asking again.
            message = f"{type(error).__name__}: {error}"
            llm_round.status, llm_round.detail = RoundStatus.VERIFIER_ERROR, _first_line(message)
            self.verifier_error = message
            self.progress(f"  {llm_round.status.value}: {llm_round.detail}")
            return None
        llm_round.verdict = verdict.to_dict()
        if verdict.equivalent:
            llm_round.status = RoundStatus.ACCEPTED
            llm_round.detail = _first_line(verdict.summary())
            self.progress(f"  {llm_round.status.value}: {llm_round.detail}")
        else:
            self._fail(
                llm_round, RoundStatus.VERIFIER_REJECTED, verdict.summary(), verdict.feedback()
            )
        return verdict

    def _fail(self, llm_round: LLMRound, status: RoundStatus, detail: str, feedback: str) -> None:
        feedback = _cut(feedback)
        llm_round.status, llm_round.detail, llm_round.feedback = (
            status,
            _first_line(detail),
            feedback,
        )
        if self.repair_messages:
            self.pending = prompts.follow_up_prompt(feedback)
        else:
            self.pending = prompts.repair_prompt(self.script, self.candidate or "", feedback)
            self.repair_messages = [{"role": "system", "content": prompts.SYSTEM_PROMPT}]
        self.progress(f"  {status.value}: {llm_round.detail}")


def _static_status(report: StaticCheckReport) -> RoundStatus:
    if report.syntax_error:
        return RoundStatus.SYNTAX_ERROR
    if report.forbidden_api:
        return RoundStatus.FORBIDDEN_API
    return RoundStatus.STATIC_CHECK_FAILURE


def _first_lines(path: Path, count: int) -> list[str]:
    if count <= 0:
        return []
    lines: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            lines.append(line.rstrip("\r\n")[:500])
            if len(lines) >= count:
                break
    return lines


def _cut(text: str) -> str:
    if len(text) <= MAX_FEEDBACK_CHARS:
        return text
    return text[:MAX_FEEDBACK_CHARS] + f"\n... ({len(text) - MAX_FEEDBACK_CHARS:,} more chars cut)"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 300 else line[:297] + "..."


__all__ = [
    "LLMConfig",
    "LLMConfigError",
    "LLMRewriteError",
    "LLMRewriteResult",
    "LLMRound",
    "RoundStatus",
    "SentRequest",
    "assemble_module",
    "extract_code",
    "load_llm_config",
    "rewrite_with_llm",
]
