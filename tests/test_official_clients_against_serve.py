"""The official Python client of both majors, pinned, runs the example of Elastic's "Update connector status API"
page against ``connector-contract serve`` of every release its major supports, with request compression, an
opaque id and the standard parameters, and gets what the facts sheet says Elasticsearch answers (sections 0, 4
and 9): 200 ``{"result": "updated"}`` for an accepted transition, 400 ``status_exception`` for a refused one, and
no Warning either way.

Each client runs in its own virtual environment (``elasticsearch8`` and ``elasticsearch`` 9 cannot share one),
driven by ``clients/drive_python.py``; CI builds both (.ci/run), elsewhere a missing one is skipped with the
command that prepares it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from support.capturing import client_command

#: what the clients send with every option on: the standard parameters a user passes to update_status
PARAMS = {"error_trace": True, "filter_path": "result", "human": True, "pretty": True}
ALL_OPTIONS = ["compression", "opaque-id", *PARAMS]
#: (client, the releases its major supports): a 9.x client asks for compatible-with=9, which 8.x refuses;
#: an 8.x client's compatible-with=8 is accepted by 8.x and 9.x alike; Serverless accepts both
CASES = [
    ("python-es8", release) for release in ("8.13.4", "8.14.3", "8.15.0", "8.19.0", "9.0.0", "9.1.0", "serverless")
] + [("python-es9", release) for release in ("9.0.0", "9.1.0", "serverless")]


@contextmanager
def serve(release: str) -> Iterator[str]:
    """``connector-contract serve`` of ``release`` on a free port, as a user starts it; its URL."""
    args = ["--build-flavor", "serverless"] if release == "serverless" else ["--es-version", release]
    command = [sys.executable, "-m", "pytest_connector_contract.cli.main", "serve", "--port", "0", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert "listening on http://127.0.0.1:" in line, (line, process.stderr.read() if process.stderr else "")
            yield line.rsplit(" ", 1)[1]
        finally:
            process.terminate()
            process.communicate(timeout=30)


@pytest.mark.parametrize(("client", "release"), CASES, ids=[f"{c}-{r}" for c, r in CASES])
def test_the_official_client_runs_the_example_as_against_elasticsearch(client: str, release: str) -> None:
    command = client_command(client)
    module = "elasticsearch8" if client == "python-es8" else "elasticsearch"
    with serve(release) as url, requests.Session() as session:
        ids = []
        for n in range(4):
            connector_id = f"example-{n}"
            body = {"index_name": f"example-{n}", "name": "example", "is_native": False}
            assert session.put(f"{url}/_connector/{connector_id}", json=body).status_code == 201
            ids.append(connector_id)
        calls = [
            {"connector_id": ids[0], "status": "needs_configuration", "options": []},
            {"connector_id": ids[1], "status": "needs_configuration", "options": ALL_OPTIONS},
            {"connector_id": ids[2], "status": "connected", "options": []},
            {"connector_id": ids[3], "status": "connected", "options": ALL_OPTIONS},
        ]
        plan = {"module": module, "url": url, "api_key": None, "opaque_id": "example-opaque", "params": PARAMS}
        done = subprocess.run(
            command,
            input=json.dumps({**plan, "calls": calls}),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        results = json.loads(done.stdout)["results"]
        statuses = [session.get(f"{url}/_connector/{connector_id}").json()["status"] for connector_id in ids]
    accepted, accepted_all, refused, refused_all = results
    for result in (accepted, accepted_all):  # section 0: 200 {"result": "updated"}; filter_path=result keeps it
        assert (result["http"], result["body"], result["warnings"]) == (200, {"result": "updated"}, [])
    for result in (refused, refused_all):  # section 3: 400 status_exception naming both statuses
        assert result["http"] == 400, result
        assert "status_exception" in result["error"], result
        assert "Invalid transition attempt from [created] to [connected]" in result["error"], result
        assert result["warnings"] == []
    assert statuses == ["needs_configuration", "needs_configuration", "created", "created"]
