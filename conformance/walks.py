"""One bounded pagination walker for both styles: follow a link field from page to page.

Mifumo's links are absolute page-number URLs and WePay's are relative cursor paths, but walking them is
the same: request, read the items and the link, stop at `null`, and never trust the server to stop —
a revisited link is a loop, and `max_pages` caps an endless collection.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from conformance.http import Exchange
from conformance.outcome import Cases, Failed, Skipped, ensure


@dataclass
class Page:
    exchange: Exchange
    body: dict[str, Any]

    def items(self) -> list[dict[str, Any]]:
        return list(self.body.get("results") or [])

    def link(self, name: str) -> str | None:
        return self.body.get(name)


@dataclass
class Walk:
    pages: list[Page] = field(default_factory=list)
    # The link that was about to be followed a second time, if the walk looped.
    loop_at: str | None = None
    truncated: bool = False

    def items(self) -> list[dict[str, Any]]:
        return [item for page in self.pages for item in page.items()]


class PageSource(Protocol):
    """Where walks get their pages: the check context, which fetches a page and makes sure it can be read."""

    def page(self, path_or_url: str, params: dict[str, Any] | None = None) -> Page: ...

    def url(self, link: str) -> str: ...


def walk(source: PageSource, first: Page, link: str, max_pages: int) -> Walk:
    """Follow `link` ("next" or "previous") from `first` until it is null, a loop, or `max_pages`."""
    result = Walk([first])
    seen = {first.exchange.url}
    target = first.link(link)
    while target is not None:
        if len(result.pages) >= max_pages:
            result.truncated = True
            break
        url = source.url(target)
        if url in seen:
            result.loop_at = target
            break
        seen.add(url)
        result.pages.append(source.page(target))
        target = result.pages[-1].link(link)
    return result


def full_walk(source: PageSource, first: Page, max_pages: int) -> Walk:
    """A forward walk that must end: a loop fails the check, a cap too small to finish skips it."""
    result = walk(source, first, "next", max_pages)
    if result.loop_at is not None:
        raise Failed(
            "following `next` should never revisit a page",
            "each page once",
            f"revisited {result.loop_at}",
            result.pages[-1].exchange,
        )
    if result.truncated:
        raise Skipped(f"the collection has more than {max_pages} pages; a full walk is out of bounds")
    return result


def ensure_walk_integrity(result: Walk, page_size: int, key: Callable[[dict[str, Any]], Any]) -> None:
    """Every page but the last is full, the last is not over-full and not empty, no item appears twice,
    the first page has no `previous` and the last no `next`. Every distinct breach is reported."""
    cases = Cases()
    seen: dict[Any, int] = {}
    for number, page in enumerate(result.pages, start=1):
        items = page.items()
        with cases.case():
            if number == len(result.pages):
                ensure(
                    len(items) <= page_size and (len(items) >= 1 or number == 1),
                    "the last page should hold 1..page_size items",
                    f"1..{page_size}",
                    len(items),
                    page.exchange,
                )
            else:
                ensure(
                    len(items) == page_size,
                    f"page {number} of the walk should be full",
                    page_size,
                    len(items),
                    page.exchange,
                )
        for item in items:
            ident = key(item)
            with cases.case():
                ensure(
                    ident not in seen,
                    "an item should appear on exactly one page",
                    f"{ident} once",
                    f"{ident} also on page {seen.get(ident)} and page {number}",
                    page.exchange,
                )
            seen[ident] = number
    for page, link, where in ((result.pages[0], "previous", "first"), (result.pages[-1], "next", "last")):
        with cases.case():
            ensure(
                page.link(link) is None,
                f"the {where} page should have no `{link}` link",
                None,
                page.link(link),
                page.exchange,
            )
    cases.finish()


def ensure_retraced(source: PageSource, forward: Walk, key: Callable[[dict[str, Any]], Any], max_pages: int) -> None:
    """Following `previous` from the last page visits the forward walk's pages in reverse."""
    if len(forward.pages) < 2:
        raise Skipped("fewer than 2 pages: there is no `previous` link to follow")
    backward = walk(source, forward.pages[-1], "previous", max_pages)
    ensure(
        backward.loop_at is None,
        "following `previous` should never revisit a page",
        "each page once",
        f"revisited {backward.loop_at}",
        backward.pages[-1].exchange,
    )
    expected = [[key(i) for i in p.items()] for p in reversed(forward.pages)]
    got = [[key(i) for i in p.items()] for p in backward.pages]
    for number, (want, have) in enumerate(zip(expected, got, strict=False), start=1):
        ensure(
            want == have,
            f"step {number} back via `previous` should show the page seen going forward",
            want,
            have,
            backward.pages[number - 1].exchange,
        )
    ensure(
        len(got) == len(expected),
        "`previous` should lead back to the first page and stop there",
        f"{len(expected)} pages",
        f"{len(got)} pages",
        backward.pages[-1].exchange,
    )


def ensure_sorted(result: Walk, sort_key: Callable[[dict[str, Any]], Any], rule: str) -> None:
    """Items are in `sort_key` order across the whole walk, page boundaries included."""
    located = [(item, page) for page in result.pages for item in page.items()]
    if len(located) < 2:
        raise Skipped("fewer than 2 items: order cannot be judged")
    for (before, _), (after, page) in itertools.pairwise(located):
        if sort_key(before) > sort_key(after):
            raise Failed(
                f"items should be ordered by {rule}",
                f"{before.get('id')} after {after.get('id')}",
                f"{before.get('id')} before {after.get('id')}: {sort_key(before)} > {sort_key(after)}",
                page.exchange,
            )


def choose_page_size(total: int, maximum: int, pages: int = 5) -> int:
    """A page size that splits `total` items into about `pages` pages (at least 1, at most `maximum`)."""
    return max(1, min(maximum, -(-total // pages)))


def ensure_filter_holds(
    source: PageSource,
    first: Page,
    mismatch: Callable[[dict[str, Any]], str | None],
    total: int,
    key: Callable[[dict[str, Any]], Any],
    max_pages: int,
) -> None:
    """A filtered collection walked in small pages from `first`: forward through every `next` every record
    matches the filter (`mismatch` says how one does not), each record comes once and the walk yields
    `total` of them; back through every `previous` the same pages come in reverse. A backend whose links
    forget the filter on page 2 fails here, where one big page would hide it. Every breach is reported."""
    forward = full_walk(source, first, max_pages)
    cases = Cases()
    for page in forward.pages:
        for item in page.items():
            with cases.case():
                problem = mismatch(item)
                ensure(
                    problem is None,
                    "every record on every page should match the filter",
                    "a match",
                    problem,
                    page.exchange,
                )
    with cases.case():
        keys = [key(item) for item in forward.items()]
        ensure(
            len(keys) == total and len(set(keys)) == total,
            "walking the filtered collection should yield each of its records once",
            f"{total} distinct records",
            f"{len(set(keys))} distinct of {len(keys)} over {len(forward.pages)} page(s)",
            forward.pages[-1].exchange,
        )
    if len(forward.pages) > 1:
        with cases.case():
            ensure_retraced(source, forward, key, max_pages)
    cases.finish()
