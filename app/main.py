"""The one module-level application, for `uvicorn app.main:app`; settings from the environment."""

from app.factory import create_app

app = create_app()
