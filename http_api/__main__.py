"""Run the API process: `python -m http_api` (uvicorn serving the Litestar app)."""

import uvicorn

from mimo import logs
from mimo.settings import load_or_exit


def run() -> None:
    settings = load_or_exit()
    logs.setup(settings.log_level, "api")
    from http_api.app import create_app

    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                loop="uvloop", log_level=settings.log_level.lower())


if __name__ == "__main__":
    run()
