"""Log formats: uvicorn's text lines (the default) or, with `PHOSPHO_LOG_FORMAT=json`, one JSON
object per line for every line the server writes (phospho's, uvicorn's, other libraries').

JSON lines come from python-json-logger's orjson formatter: a maintained library that already
handles what a hand-written Formatter gets wrong (exceptions and stack traces as fields, extra
fields, non-JSON values), at orjson's speed. Each line has `timestamp`, `level`, `logger`,
`pid` (which process wrote it: `--workers` runs several) and `message`, plus the fields of
its record. A line written while a request runs carries its
`request_id` (app/request_context.py); the access line (`phospho.access`, written by
app/api/observe.py when `PHOSPHO_ACCESS_LOG` is on) also has `method`, `route` (the template),
`status`, `duration_ms`, `client` and `project_id`. Nothing else of a request is logged: no
key, password, cookie, query string or event text.

In JSON mode uvicorn's own access line (the raw path, query string included) is not written:
the middleware's replaces it.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from app.request_context import REQUEST_ID

FORMATS = ("text", "json")
# uvicorn's text formatter adds these to records: colour codes have no place in JSON.
_NOT_FIELDS = ("color_message",)


class RequestIdFilter(logging.Filter):
    """Adds the running request's id to a record written while a request runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record."""
        if not hasattr(record, "request_id"):
            rid = REQUEST_ID.get()
            if rid is not None:
                record.request_id = rid
        return True


def json_formatter() -> logging.Formatter:
    """The JSON formatter (what `log_config` names for the handlers)."""
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.orjson import OrjsonFormatter

    # Python's warnings go through logging ("py.warnings") rather than raw to stderr: made here
    # because the formatter is built in every process that configures logging (each worker).
    logging.captureWarnings(True)
    return OrjsonFormatter(
        ["levelname", "name", "process", "message"],
        rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
        reserved_attrs=[*RESERVED_ATTRS, *_NOT_FIELDS],
        timestamp=True,
    )


def log_config(level: str, fmt: str = "text") -> dict[str, Any]:
    """uvicorn's logging, with phospho's own loggers on its handler at `level` (without one,
    Python drops their info lines and prints warnings unformatted); `fmt` "json" makes every
    handler write JSON lines to stderr."""
    import uvicorn.config

    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["phospho"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    if fmt != "json":
        return config
    config["formatters"] = {"json": {"()": "app.logs.json_formatter"}}
    config["filters"] = {"request_id": {"()": "app.logs.RequestIdFilter"}}
    config["handlers"] = {
        "default": {
            "formatter": "json",
            "filters": ["request_id"],
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        }
    }
    # uvicorn's access line is replaced by the middleware's (see the module's docstring).
    config["loggers"]["uvicorn.access"] = {"handlers": [], "level": "CRITICAL", "propagate": False}
    # Everything else (libraries, Python's warnings) through the same handler.
    config["loggers"]["py.warnings"] = {"handlers": ["default"], "propagate": False}
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config


def announce(text: str, fmt: str) -> None:
    """A start-up line for the operator: printed as is, or as a JSON line in JSON mode."""
    import sys

    if fmt == "json":
        from datetime import UTC, datetime

        import orjson

        now = datetime.now(UTC).isoformat()
        line = {"level": "INFO", "logger": "phospho", "message": text, "timestamp": now}
        sys.stderr.write(orjson.dumps(line).decode() + "\n")
        sys.stderr.flush()
    else:
        print(text, file=sys.stderr)
