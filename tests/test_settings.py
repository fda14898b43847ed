"""Options: one group, each also an environment variable and an ini key; command line > env > ini > default."""

from __future__ import annotations

import json

import pytest

from pytest_connector_contract.config.credentials import redact_url
from pytest_connector_contract.config.settings import OPTIONS, Option
from pytest_connector_contract.plugin.options import resolve


def _configuration(pytester: pytest.Pytester, *args: str) -> dict:
    report = pytester.path / "out.json"
    result = pytester.runpytest_subprocess(
        "--connector-json", str(report), "connector-contract::transition[created->error]", *args
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    return json.loads(report.read_text())["configuration"]


def test_precedence_is_command_line_then_environment_then_ini_then_default(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_URL", "embedded")
    assert _configuration(pytester)["timeout"] == {"value": 10.0, "source": "default"}
    pytester.makeini("[pytest]\nconnector_timeout = 3\nconnector_id_prefix = from-ini\n")
    config = _configuration(pytester)
    assert config["timeout"] == {"value": 3.0, "source": "ini"}
    assert config["id_prefix"] == {"value": "from-ini", "source": "ini"}
    assert config["url"] == {"value": "embedded", "source": "env"}
    monkeypatch.setenv("CONNECTOR_TIMEOUT", "5")
    assert _configuration(pytester)["timeout"] == {"value": 5.0, "source": "env"}
    assert _configuration(pytester, "--connector-timeout", "7")["timeout"] == {"value": 7.0, "source": "cli"}


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--connector-url", "ftp://x"], {}, "is not a target"),
        (["--connector-url", "embedded", "--connector-profile", "7.17"], {}, "is not a profile"),
        (["--connector-url", "embedded", "--connector-timeout", "-1"], {}, "seconds must be more than 0"),
        (["--connector-url", "embedded", "--connector-id-prefix", "Has Space"], {}, "is not an id prefix"),
        (["--connector-url", "embedded", "--connector-embedded-version", "8.12.0"], {}, "8.13.0 or newer"),
        (["--connector-url", "embedded"], {"CONNECTOR_TIMEOUT": "soon"}, "environment variable CONNECTOR_TIMEOUT"),
        (["--connector-url", "embedded"], {"CONNECTOR_KEEP": "maybe"}, "is not a boolean"),
        ([], {"CONNECTOR_URL": "localhost:9200"}, "environment variable CONNECTOR_URL"),
        (["--connector-url", "embedded", "--connector-concurrency", "0"], {}, "checks in flight must be from 1 to 256"),
        (["--connector-url", "embedded"], {"CONNECTOR_CONCURRENCY": "many"}, "'many' is not a number of checks"),
    ],
)
def test_bad_values_are_usage_errors_that_say_what_is_wrong(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_a_bad_ini_value_names_the_ini_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nconnector_profile = newest\n")
    result = pytester.runpytest_subprocess("--connector-url", "embedded")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini key connector_profile: 'newest' is not a profile*"])


def test_a_password_in_a_bad_url_is_not_echoed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--connector-url", "htps://elastic:hunter2@es:9200")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "hunter2" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@es.example:9200/base", "https://es.example:9200/base"),
        ("http://user@[::1]:9200", "http://[::1]:9200"),
        ("https://es.example", "https://es.example"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_options_are_in_one_group_with_their_environment_and_ini_names(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["connector status API conformance:", "*--connector-url=URL*"])
    text = result.stdout.str()
    for env in (
        "CONNECTOR_URL",
        "CONNECTOR_PROFILE",
        "CONNECTOR_JSON",
        "CONNECTOR_TIMEOUT",
        "CONNECTOR_ID_PREFIX",
        "CONNECTOR_KEEP",
        "CONNECTOR_EMBEDDED_VERSION",
    ):
        assert env in text


# -- boolean options: on and off from every source -------------------------------------------------
FLAGS = [option for option in OPTIONS if option.is_flag]


def test_the_boolean_options_are_the_ones_the_table_marks() -> None:
    assert {option.dest for option in FLAGS} == {
        "keep",
        "strict_results",
        "insecure",
        "race",
        "reference_insecure",
        "strict",
    }


def _needs(option: Option) -> dict[str, str]:
    """The environment an option needs to be valid at all: a reference option needs a reference cluster."""
    return {"CONNECTOR_REFERENCE_URL": "https://es.example:9200"} if option.dest.startswith("reference_") else {}


@pytest.mark.parametrize("option", FLAGS, ids=[o.dest for o in FLAGS])
@pytest.mark.parametrize(
    ("env", "args", "value", "source"),
    [
        ("true", ["--no-{flag}"], False, "cli"),
        ("false", ["--{flag}"], True, "cli"),
        ("true", [], True, "env"),
        ("false", [], False, "env"),
        (None, ["--no-{flag}"], False, "cli"),
        (None, [], False, "default"),
        (None, ["--{flag}", "--no-{flag}"], False, "cli"),  # the last one given wins
        (None, ["--no-{flag}", "--{flag}"], True, "cli"),
    ],
)
def test_the_command_line_turns_a_boolean_on_and_off_over_the_environment(
    pytester: pytest.Pytester, option: Option, env: str | None, args: list[str], value: bool, source: str
) -> None:
    flag = option.flag.removeprefix("--")
    config = pytester.parseconfig(*(arg.format(flag=flag) for arg in args))
    settings = resolve(config, environ={**_needs(option), **({option.env: env} if env is not None else {})})
    assert (option.value(settings), settings.sources[option.dest]) == (value, source)


@pytest.mark.parametrize("option", FLAGS, ids=[o.dest for o in FLAGS])
def test_the_command_line_turns_a_boolean_off_over_the_ini_key(pytester: pytest.Pytester, option: Option) -> None:
    pytester.makeini(f"[pytest]\n{option.ini} = true\n")
    assert option.value(resolve(pytester.parseconfig(), environ=_needs(option))) is True
    settings = resolve(pytester.parseconfig(f"--no-{option.flag.removeprefix('--')}"), environ=_needs(option))
    assert (option.value(settings), settings.sources[option.dest]) == (False, "cli")


def test_no_connector_keep_beats_connector_keep_true_in_a_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_URL", "embedded")
    monkeypatch.setenv("CONNECTOR_KEEP", "true")
    assert _configuration(pytester)["keep"] == {"value": True, "source": "env"}
    assert _configuration(pytester, "--no-connector-keep")["keep"] == {"value": False, "source": "cli"}
    monkeypatch.setenv("CONNECTOR_KEEP", "false")
    assert _configuration(pytester, "--connector-keep")["keep"] == {"value": True, "source": "cli"}


def test_the_sweep_command_turns_insecure_off_too() -> None:
    from pytest_connector_contract.cli.main import build_parser

    parser = build_parser()
    base = ["sweep", "--prefix", "ccontract"]
    assert parser.parse_args([*base, "--connector-insecure"]).insecure is True
    assert parser.parse_args([*base, "--no-connector-insecure"]).insecure is False
    assert parser.parse_args(base).insecure is None  # the environment decides


# -- one access block, for the target and for the reference cluster ---------------------------------------
def test_the_reference_cluster_takes_its_own_proxy_from_every_source(pytester: pytest.Pytester) -> None:
    reference = {"CONNECTOR_REFERENCE_URL": "https://es.example:9200"}
    proxy = "http://ref-user:ref-pass-0007@proxy.example:3128"
    pytester.makeini(f"[pytest]\nconnector_reference_proxy = {proxy}\nconnector_proxy = http://target-proxy:3128\n")
    from_ini = resolve(pytester.parseconfig(), environ=reference)
    assert (from_ini.reference.proxy, from_ini.sources["reference_proxy"]) == (proxy, "ini")
    assert from_ini.target.proxy == "http://target-proxy:3128"
    from_env = resolve(pytester.parseconfig(), environ={**reference, "CONNECTOR_REFERENCE_PROXY": "http://env:1"})
    assert (from_env.reference.proxy, from_env.sources["reference_proxy"]) == ("http://env:1", "env")
    from_cli = resolve(pytester.parseconfig("--connector-reference-proxy", "http://cli:2"), environ=reference)
    assert (from_cli.reference.proxy, from_cli.sources["reference_proxy"]) == ("http://cli:2", "cli")
    described = from_ini.describe()
    assert described["reference_proxy"] == {"value": "http://proxy.example:3128", "source": "ini"}
    assert "ref-pass-0007" in from_ini.secrets()  # its password is redacted wherever it would appear
    assert "ref-pass-0007" not in json.dumps(described)


def test_a_reference_option_without_a_reference_cluster_is_a_usage_error(pytester: pytest.Pytester) -> None:
    with pytest.raises(pytest.UsageError, match="--connector-reference-proxy need"):
        resolve(pytester.parseconfig("--connector-reference-proxy", "http://proxy.example:3128"), environ={})


def test_the_rules_of_an_access_block_name_its_own_options(pytester: pytest.Pytester) -> None:
    environ = {"CONNECTOR_REFERENCE_URL": "https://es.example:9200", "CONNECTOR_REFERENCE_USER": "elastic"}
    with pytest.raises(pytest.UsageError, match="needs both --connector-reference-user and --connector-reference-pass"):
        resolve(pytester.parseconfig(), environ=environ)
    with pytest.raises(pytest.UsageError, match="needs both --connector-user and --connector-password"):
        resolve(pytester.parseconfig(), environ={"CONNECTOR_USER": "elastic"})
