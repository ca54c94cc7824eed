"""The smallest complete Luban extension: one route that greets, with a config."""

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from luban_sdk import Extension, context


class HelloConfig(BaseModel):
    """``extensions.hello`` in the kernel's config file."""

    greeting: str = "Hello"


extension = Extension(
    name="hello",
    api_group="hello.luban.io",
    version="v1",
    display_name="Hello",
    description="Greets whoever asks; the example every extension author starts from.",
    extension_version="0.1.0",
    config_model=HelloConfig,
)


@extension.get("/greetings/{name}", rate_limit="600/minute")
async def greet(request: Request) -> Response:
    """Answer ``{"greeting": "<greeting>, <name>!", "caller": <who asked>}``."""
    ctx = context(request)
    greeting = ctx.config_as(HelloConfig).greeting
    caller = ctx.caller.name if ctx.caller else None
    return JSONResponse(
        {"greeting": f"{greeting}, {request.path_params['name']}!", "caller": caller}
    )
