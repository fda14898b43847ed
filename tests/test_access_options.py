"""Access options read as a user gives them: ``--connector-cloud-id`` as the deployment's URL, contradicting or
incomplete access options refused as usage errors, and ``--connector-insecure`` warned about once."""

from __future__ import annotations

import base64

import pytest
from support.runs import output

from pytest_connector_contract.config.values import decode_cloud_id


@pytest.mark.parametrize(
    ("cloud_id", "url"),
    [
        (
            "my-deployment:" + base64.b64encode(b"us-central1.gcp.cloud.es.io$abc123$kib456").decode(),
            "https://abc123.us-central1.gcp.cloud.es.io:443",
        ),
        (
            "x:" + base64.b64encode(b"eu-west-1.aws.found.io:9243$es0$kb0").decode(),
            "https://es0.eu-west-1.aws.found.io:9243",
        ),
    ],
)
def test_cloud_id_decodes_to_the_deployment_url(cloud_id: str, url: str) -> None:
    assert decode_cloud_id(cloud_id) == url


def test_cloud_id_becomes_the_target(pytester: pytest.Pytester, quick_retries: object) -> None:
    cloud_id = "d:" + base64.b64encode(b"localhost:1$nohost$kb").decode()
    result = pytester.runpytest_subprocess("--connector-cloud-id", cloud_id, "--connector-timeout", "2")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "cannot reach the target https://nohost.localhost:1" in output(result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--connector-api-key", "k", "--connector-bearer-token", "t"), "give one kind of credentials"),
        (("--connector-user", "u"), "needs both --connector-user and --connector-password"),
        (("--connector-client-key", "{file}"), "--connector-client-key needs --connector-client-cert"),
        (("--connector-ca-certs", "/nonexistent/ca.pem"), "no such file"),
        (("--connector-insecure", "--connector-ca-certs", "{file}"), "contradict"),
        (("--connector-max-rps", "0"), "requests per second must be more than 0"),
    ],
)
def test_access_options_are_validated(pytester: pytest.Pytester, args: tuple[str, ...], message: str) -> None:
    file = pytester.makefile(".pem", ca="not really a certificate")
    result = pytester.runpytest_subprocess("--connector-url", "embedded", *(a.format(file=file) for a in args))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_insecure_warns_once_and_loudly(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--connector-url", "embedded", "--connector-insecure",
                                           "connector-contract::transition[created->error]")  # fmt: skip
    assert result.ret == 0
    text = result.stdout.str()
    assert text.count("TLS certificate is NOT verified") == 1
    assert "InsecureRequestWarning" not in text
