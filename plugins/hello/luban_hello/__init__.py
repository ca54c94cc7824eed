"""The smallest complete Luban extension: one route that greets the caller."""

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from luban_sdk import Extension

extension = Extension(
    name="hello",
    api_group="hello.luban.io",
    version="v1",
    display_name="Hello",
    description="Greets whoever asks; the example every extension author starts from.",
)


@extension.get("/greetings/{name}")
async def greet(request: Request) -> Response:
    """Answer ``{"greeting": "Hello, <name>!"}``."""
    return JSONResponse({"greeting": f"Hello, {request.path_params['name']}!"})
