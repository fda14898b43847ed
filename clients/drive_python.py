"""Drive one official Python client through the calls ``capture.py`` plans, and say what each call got.

Run by the interpreter of a virtual environment built from ``constraints-es9.txt`` or ``constraints-es8.txt``
(it imports only the client and the standard library). The plan arrives as JSON on standard input:
``{"module", "url", "api_key", "opaque_id", "params", "calls": [{"connector_id", "status", "options"}]}``;
the answer is JSON on standard output: ``{"version", "results": [{"http", "body" | "error", "warnings"}]}``.
Each call gets a client of its own, configured with the call's options only.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from typing import Any


def main() -> int:
    plan = json.load(sys.stdin)
    es: Any = importlib.import_module(plan["module"])
    results = []
    for call in plan["calls"]:
        options = set(call["options"])
        client = es.Elasticsearch(plan["url"], api_key=plan["api_key"], http_compress="compression" in options)
        if "opaque-id" in options:
            client = client.options(opaque_id=plan["opaque_id"])
        params = {name: value for name, value in plan["params"].items() if name in options}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                answer = client.connector.update_status(
                    connector_id=call["connector_id"], status=call["status"], **params
                )
                result: dict[str, Any] = {"http": answer.meta.status, "body": answer.body}
            except es.ApiError as exc:
                result = {"http": exc.meta.status, "error": str(exc)}
        # Only what the server said (its Warning headers): the client's own notice that the API is a
        # technical preview (GeneralAvailabilityWarning) is not part of the exchange.
        result["warnings"] = [str(w.message) for w in caught if w.category.__name__ == "ElasticsearchWarning"]
        results.append(result)
        client.close()
    json.dump({"version": es.__versionstr__, "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
