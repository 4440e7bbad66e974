"""The module uvicorn imports: ``uvicorn ezhr_graphql.asgi:app --workers 4``."""

from ezhr_graphql.app import create_app
from ezhr_graphql.observe import logs
from ezhr_graphql.settings import get_settings

settings = get_settings()
logs.configure(settings.log_level, json_logs=settings.log_format == "json")
app = create_app(settings)
