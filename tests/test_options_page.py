"""docs/options.md is generated from the option declarations, so it lists every option with its environment
variable, ini key, off form and default, as the plugin really has them.

Regenerate it with ``python tests/test_options_page.py > docs/options.md``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from pytest_connector_contract.config.settings import OPTIONS

REPO = Path(__file__).resolve().parent.parent

_PREAMBLE = """\
# Options

Generated from the option declarations (`pytest_connector_contract/config/settings.py`):
`python tests/test_options_page.py > docs/options.md`.

Every option can also be set as an environment variable or an ini key. Precedence:
**command line > environment variable > ini key (`[tool.pytest.ini_options]`, `pytest.ini`, ...) > default**.
Each on/off option has a `--no-` form, so the command line can turn off what the environment or an ini key
turned on: `CONNECTOR_KEEP=true pytest --no-connector-keep` deletes the connectors. When both forms are given,
the last one wins. Such an option's environment variable takes `true` or `false`.

Keep secrets in environment variables. An ini key works for every option, but it writes the secret into a file.
Relative paths are taken from the directory pytest runs in. An empty default means the option is unset until it
is given; what applies then is in its meaning, or on the page of its topic.

| option | environment | ini key | default | meaning |
|---|---|---|---|---|
"""

#: a flag in the help text, shown as code
_FLAG = re.compile(r"(?<![\w`])(--[a-z][a-z-]*)")


def _code(text: str) -> str:
    return f"`{text}`"


def _default(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return _code(f"{value:g}")
    return _code(str(value))


def _meaning(help_text: str) -> str:
    return _FLAG.sub(r"`\1`", help_text).replace("|", "\\|")


def render_options() -> str:
    """The page: the rules every option follows, then one row per option, in declaration order."""
    rows = []
    for option in OPTIONS:
        forms = ", ".join(_code(form) for form in (option.flag, option.negation) if form)
        rows.append(
            f"| {forms} | {_code(option.env)} | {_code(option.ini)} | {_default(option.default)} "
            f"| {_meaning(option.help)} |"
        )
    return _PREAMBLE + "\n".join(rows) + "\n"


def test_the_options_page_is_current() -> None:
    published = (REPO / "docs" / "options.md").read_text(encoding="utf-8")
    assert published == render_options(), "regenerate: python tests/test_options_page.py > docs/options.md"


def test_every_option_has_its_row_with_environment_variable_ini_key_and_off_form() -> None:
    page = render_options()
    for option in OPTIONS:
        row = next((line for line in page.splitlines() if line.startswith(f"| `{option.flag}`")), None)
        assert row is not None, option.flag
        assert f"`{option.env}`" in row
        assert f"`{option.ini}`" in row
        if option.negation is not None:
            assert f"`{option.negation}`" in row


if __name__ == "__main__":
    sys.stdout.write(render_options())
