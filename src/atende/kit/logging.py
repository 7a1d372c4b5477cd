"""structlog configuration: JSON in production, readable in development, PII masked everywhere.

Every log record, ours or a library's (uvicorn, SQLAlchemy), goes through the same processor chain,
whose last step before rendering is the masker, so no renderer ever sees an unmasked value.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from atende.kit.masking import mask_text, mask_value


def drop_color_message(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    # uvicorn adds an ANSI-coloured copy of its message; it is noise in JSON and files.
    event_dict.pop("color_message", None)
    return event_dict


def mask_processor(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    return {key: mask_value(value) for key, value in event_dict.items()}


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default or str).decode()


class _MaskingFormatter(structlog.stdlib.ProcessorFormatter):
    def format(self, record: logging.LogRecord) -> str:
        # Renderers may add text after our processors ran (console tracebacks): mask the result too.
        return mask_text(super().format(record))


def configure_logging(
    *, level: str = "INFO", json: bool = True, stream: TextIO | None = None
) -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.format_exc_info,
        drop_color_message,
        mask_processor,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if json
        else structlog.dev.ConsoleRenderer(colors=stream is None and sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        _MaskingFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Library chatter that would drown the pipeline's own lines.
    for noisy in ("aiosqlite", "asyncio", "hpack", "httpcore", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
