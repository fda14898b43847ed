"""Options: one group, each also an environment variable and an ini key; command line > env > ini > default."""

from __future__ import annotations

import json

import pytest

from pytest_connector_contract.client.secrets import redact_url


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
