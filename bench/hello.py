"""A bare FastAPI app answering a small JSON document, served exactly as the shop's apps are
(services/shared/server.py): the ceiling the gateway is compared to, and the app the sidecar
overhead is measured on. Run: APP_PORT=7100 python -m bench.hello"""

from fastapi import FastAPI

from services.shared.server import serve

app = FastAPI(title="hello")


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    serve("bench.hello:app", "bench-hello")
