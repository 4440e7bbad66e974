"""The module uvicorn imports: ``uvicorn ezhr_graphql.asgi:app --workers 4``."""

from ezhr_graphql.app import create_app
from ezhr_graphql.logging import configure_logging
from ezhr_graphql.settings import get_settings

settings = get_settings()
configure_logging(settings.log_level)
app = create_app(settings)
