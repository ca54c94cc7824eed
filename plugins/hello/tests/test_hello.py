from typing import Any

import httpx
import pytest


@pytest.fixture(scope="module")
def luban_extensions() -> list[str]:
    return ["hello=luban_hello:extension"]


@pytest.fixture(scope="module")
def luban_config() -> dict[str, Any]:
    return {"extensions": {"hello": {"greeting": "Hi"}}}


async def test_greets_with_the_configured_greeting(luban_http: httpx.AsyncClient) -> None:
    response = await luban_http.get("/kapis/hello.luban.io/v1/greetings/ada")
    assert response.status_code == 200
    assert response.json() == {"greeting": "Hi, ada!", "caller": "admin"}


async def test_unknown_route_is_a_status(luban_http: httpx.AsyncClient) -> None:
    response = await luban_http.get("/kapis/hello.luban.io/v1/nope")
    assert response.status_code == 404
    assert response.json()["kind"] == "Status"
