"""``luban ext new NAME``: a working extension package that passes its own test."""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

PYPROJECT = """\
[project]
name = "{dist}"
version = "0.1.0"
description = "{title}: a Luban extension."
requires-python = ">=3.11"
dependencies = ["luban-sdk"]

[project.optional-dependencies]
test = ["luban-sdk[testing]"]

[project.entry-points."luban.extensions"]
{name} = "{package}:extension"

[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["{package}"]

[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
"""

INIT = '''\
"""{title}: a Luban extension."""

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from luban_sdk import Extension, context


class Config(BaseModel):
    """``extensions.{name}`` in the kernel's config file."""

    greeting: str = "Hello"


extension = Extension(
    name="{name}",
    api_group="{name}.example.com",
    version="v1alpha1",
    display_name="{title}",
    description="Describe what {name} does.",
    extension_version="0.1.0",
    config_model=Config,
)


@extension.get("/hello")
async def hello(request: Request) -> Response:
    """Greet the caller."""
    ctx = context(request)
    who = ctx.caller.name if ctx.caller else "stranger"
    return JSONResponse({{"message": f"{{ctx.config_as(Config).greeting}}, {{who}}!"}})
'''

TEST = """\
import httpx
import pytest


@pytest.fixture(scope="module")
def luban_extensions() -> list[str]:
    return ["{name}={package}:extension"]


async def test_hello(luban_http: httpx.AsyncClient) -> None:
    response = await luban_http.get("/kapis/{name}.example.com/v1alpha1/hello")
    assert response.status_code == 200
    assert response.json() == {{"message": "Hello, admin!"}}
"""

README = """\
# {title}

A [Luban](https://github.com/) extension, served by the kernel under
`/kapis/{name}.example.com/v1alpha1/`.

```
pip install -e .            # into the kernel's environment: the kernel plugs it in live
pip install -e '.[test]'    # luban-sdk[testing]
pytest                      # starts a kernel with this extension on an embedded cluster
```

Edit `{package}/__init__.py` while the kernel runs: it swaps the new code in on save.
Config lives in the kernel's config file under `extensions.{name}`.
"""


def scaffold(name: str, parent: Path) -> Path:
    """Write the package for extension ``name`` into ``parent/name``; return that directory."""
    if not _NAME.match(name) or len(name) > 63:
        raise ValueError(f"{name!r} must be a DNS label starting with a letter (my-extension)")
    root = parent / name
    if root.exists():
        raise FileExistsError(f"{root} already exists")
    package = name.replace("-", "_")
    values = {
        "name": name,
        "package": package,
        "dist": f"luban-{name}" if not name.startswith("luban-") else name,
        "title": name.replace("-", " ").title(),
    }
    files = {
        root / "pyproject.toml": PYPROJECT,
        root / package / "__init__.py": INIT,
        root / "tests" / f"test_{package}.py": TEST,
        root / "README.md": README,
    }
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values))
    return root
