from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from luban_hello import extension


def test_greeting_route_answers() -> None:
    app = Starlette(
        routes=[
            Route(extension.prefix + r.path, r.handler, methods=list(r.methods))
            for r in extension.routes
        ]
    )
    with TestClient(app) as client:
        response = client.get("/kapis/hello.luban.io/v1/greetings/ada")
    assert response.status_code == 200
    assert response.json() == {"greeting": "Hello, ada!"}
