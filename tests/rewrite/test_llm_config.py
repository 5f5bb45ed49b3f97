"""Loading the LLM configuration from the environment and from real config files."""

from __future__ import annotations

from pathlib import Path

import pytest

from lester.rewrite.llm import LLMConfigError, load_llm_config

VARIABLES = ["LESTER_LLM_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "LESTER_LLM_TIMEOUT"]


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No LLM variable set, an empty working folder and an empty config home."""
    for name in [*VARIABLES, "MY_KEY"]:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    return tmp_path


def test_the_environment_configures_model_endpoint_and_key(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LESTER_LLM_MODEL", "qwen2.5-coder")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("LESTER_LLM_TIMEOUT", "30")
    config = load_llm_config()
    assert (config.model, config.base_url, config.api_key) == (
        "qwen2.5-coder",
        "http://127.0.0.1:8000/v1",
        "sk-test-secret",
    )
    assert config.timeout_s == 30.0
    assert "LESTER_LLM_MODEL" in config.origin and "OPENAI_API_KEY" in config.origin
    assert "sk-test-secret" not in repr(config) and "sk-test-secret" not in str(config.to_dict())


def test_nothing_configured_is_an_error_naming_the_variables(clean: Path) -> None:
    with pytest.raises(LLMConfigError) as error:
        load_llm_config()
    message = str(error.value)
    for name in ["LESTER_LLM_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "lester.toml"]:
        assert name in message


def test_the_default_endpoint_needs_a_key(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LESTER_LLM_MODEL", "gpt-4o")
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY is not set"):
        load_llm_config()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert load_llm_config().endpoint == "https://api.openai.com/v1"


def test_the_projects_lester_toml_is_read_and_the_environment_overrides_it(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("lester.toml").write_text(
        '[tool]\nother = 1\n\n[llm]\nmodel = "llama3"\nbase_url = "http://localhost:11434/v1"\n'
        "timeout_s = 45\nsample_lines = 0\n"
    )
    config = load_llm_config()
    assert (config.model, config.base_url, config.timeout_s, config.sample_lines) == (
        "llama3",
        "http://localhost:11434/v1",
        45.0,
        0,
    )
    assert config.origin.endswith("lester.toml")
    monkeypatch.setenv("LESTER_LLM_MODEL", "mistral")
    assert load_llm_config().model == "mistral"


def test_a_lester_toml_without_llm_table_falls_through_to_the_user_file(clean: Path) -> None:
    Path("lester.toml").write_text('[tool]\nname = "x"\n')
    user_file = clean / "home" / ".config" / "lester" / "llm.toml"
    user_file.parent.mkdir()
    user_file.write_text('model = "phi"\nbase_url = "http://127.0.0.1:9000/v1"\n')
    assert load_llm_config().model == "phi"


def test_the_key_can_come_from_a_named_variable(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = clean / "llm.toml"
    path.write_text('[llm]\nmodel = "gpt-4o"\napi_key_env = "MY_KEY"\n')
    with pytest.raises(LLMConfigError, match=r"\$MY_KEY, which is not set"):
        load_llm_config(path)
    monkeypatch.setenv("MY_KEY", "sk-from-var")
    assert load_llm_config(path).api_key == "sk-from-var"


def test_an_explicit_file_wins_over_the_environment(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LESTER_LLM_MODEL", "from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    path = clean / "chosen.toml"
    path.write_text('[llm]\nmodel = "from-file"\n')
    config = load_llm_config(path)
    assert (config.model, config.base_url) == ("from-file", "http://127.0.0.1:1/v1")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[llm]\nmodel = "m"\nbase_url = "http://h/v1"\ntemprature = 1\n', "unknown keys"),
        ("[llm\nmodel=", "not valid TOML"),
        ('[llm]\nmodel = "m"\nbase_url = "http://h/v1"\ntimeout_s = -1\n', "timeout_s must be"),
        ('[llm]\nmodel = "m"\nbase_url = "http://h/v1"\ntimeout_s = "soon"\n', "bad LLM setting"),
        ("[other]\nx = 1\n", r"no \[llm\] table"),
    ],
)
def test_a_bad_file_is_an_error_that_says_what_is_wrong(
    clean: Path, content: str, message: str
) -> None:
    path = clean / "bad.toml"
    path.write_text(content)
    with pytest.raises(LLMConfigError, match=message):
        load_llm_config(path)


def test_a_missing_explicit_file_is_an_error(clean: Path) -> None:
    with pytest.raises(LLMConfigError, match="does not exist"):
        load_llm_config(clean / "nope.toml")
