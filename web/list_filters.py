"""The filter forms of the sessions and end-users lists: an end user and a window of latest
activity, as the URL has them. A field the form left empty ("") is no filter (issue 20); a
value the list cannot use is `Invalid`, with a message in the form's own words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, ClassVar
from urllib.parse import urlencode

from fastapi import Depends, Query

from app.errors import Invalid
from web.deps import Param, parse_time

Window = tuple[str | None, datetime | None, datetime | None]  # end user, since, until


class UrlFields:
    """What every list's filters do with their fields (a dataclass's, each a str or None):
    write them back into a URL and say whether any filters. `NOT_FILTERS` names fields that
    only order the list."""

    NOT_FILTERS: ClassVar[tuple[str, ...]] = ()

    @property
    def active(self) -> bool:
        """Whether any filter is set (an empty list then means "nothing matches", not "no
        rows yet")."""
        return any(v for k, v in vars(self).items() if k not in self.NOT_FILTERS)

    def query(self, **extra: str) -> str:
        """The URL query string of these fields (plus `extra`)."""
        return urlencode({k: v for k, v in vars(self).items() if v} | extra)


@dataclass(frozen=True)
class ActivityFilters(UrlFields):
    """An end user (exactly) and a window of latest activity (since ≤ latest < until)."""

    user: str | None = None
    since: str | None = None
    until: str | None = None

    def parsed(self, since_label: str, until_label: str) -> Window:
        """The values the read service takes; `Invalid` names the form's labels."""
        since, until = parse_time(self.since, since_label), parse_time(self.until, until_label)
        if since is not None and until is not None and since > until:
            raise Invalid(f"{since_label} must not be later than {until_label}")
        if self.user and "\x00" in self.user:
            raise Invalid("End user must not contain a NUL character")
        return self.user, since, until


def url_filters(
    user: Annotated[str | None, Query(max_length=256)] = None,
    since: Param = None,
    until: Param = None,
) -> ActivityFilters:
    """Dependency: the filters from the query string."""
    return ActivityFilters(user or None, since or None, until or None)


UrlFilters = Annotated[ActivityFilters, Depends(url_filters)]
