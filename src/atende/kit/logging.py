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

from atende.kit.masking import mask_text, mask_value, sensitive_in


def drop_color_message(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    # uvicorn adds an ANSI-coloured copy of its message; it is noise in JSON and files.
    event_dict.pop("color_message", None)
    return event_dict


#: Identifiers we generate or take from a proxy's X-Request-ID: never personal data, and an
#: all-digit request id must stay searchable (the phone pattern would otherwise take it).
_IDENTIFIERS = frozenset({"correlation_id", "conversation_id", "session_id", "tenant_id"})
_EXCEPTION_SENSITIVE = "_exception_sensitive"


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    if exc_info is True:
        return sys.exc_info()[1]
    return None


def exception_sensitive(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Before the traceback becomes text: the values its exception carries (masking.sensitive)."""
    if "exc_info" in event_dict:
        found = sensitive_in(_exception_of(event_dict["exc_info"]))
        if found:
            event_dict[_EXCEPTION_SENSITIVE] = found
    return event_dict


def mask_processor(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    extra: tuple[str, ...] = event_dict.pop(_EXCEPTION_SENSITIVE, ())
    return {
        key: value
        if key in _IDENTIFIERS and isinstance(value, str) and value.isascii()
        else mask_value(value, extra)
        for key, value in event_dict.items()
    }


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default or str).decode()


class _MaskingFormatter(structlog.stdlib.ProcessorFormatter):
    def format(self, record: logging.LogRecord) -> str:
        # Renderers may add text after our processors ran (console tracebacks): mask the result too.
        extra = sensitive_in(record.exc_info[1]) if record.exc_info else ()
        event = record.msg if isinstance(record.msg, dict) else {}
        bound = structlog.contextvars.get_contextvars()
        keep = tuple(
            value
            for key in _IDENTIFIERS
            for value in (event.get(key), bound.get(key))
            if isinstance(value, str) and value.isascii()
        )
        return mask_text(super().format(record), extra, keep=keep)


def configure_logging(
    *, level: str = "INFO", json: bool = True, stream: TextIO | None = None
) -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        exception_sensitive,
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
    for noisy in ("aiosqlite", "alembic.runtime.plugins", "asyncio", "hpack", "httpcore", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
