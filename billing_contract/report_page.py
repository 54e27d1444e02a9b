"""One self-contained HTML page for a set of checks and what they found: the conformance suite's run
(`billing-conformance --report-html`) and the validating proxy's violations (`billing-mock proxy
--report-html`) both write it, each through a small adapter to `Page`.

Here because both need it and neither may import the other (the contract package imports only itself).
The page opens with no network access: styles and a few lines of script are inline, and its
Content-Security-Policy forbids loading anything else. Every text is escaped (`html.escape`); what the
adapters hand in is already masked (secrets appear as `${BILLING_…}`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html import escape

# The states a row can be in, in the order the filter buttons list them.
STATES = ("failed", "blocked", "skipped", "passed")
Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class HttpMessage:
    """A request or an answer as shown: its first line (`GET https://…`, `HTTP 200`), headers, body."""

    start: str
    headers: Pairs = ()
    body: str = ""


@dataclass(frozen=True)
class Finding:
    message: str
    expected: str = ""
    got: str = ""
    repro: str = ""
    request: HttpMessage | None = None
    response: HttpMessage | None = None
    # Further label/value lines (the proxy: when, which side).
    notes: Pairs = ()


@dataclass(frozen=True)
class Row:
    """One check (or rule) on one operation."""

    group: str
    name: str
    state: str
    kind: str = ""
    duration: float | None = None
    note: str = ""
    findings: tuple[Finding, ...] = ()
    omitted: int = 0  # distinct findings beyond those listed


@dataclass(frozen=True)
class Page:
    title: str
    verdict: str
    state: str  # the run's: passed, failed, error, interrupted (the verdict's colour)
    facts: Pairs
    rows: tuple[Row, ...]
    reason: str = ""
    # A line under a group's heading (the suite: the operation's score).
    group_notes: Mapping[str, str] = field(default_factory=dict)


_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2126; background: #f6f7f9; }
header, nav, main { max-width: 1100px; margin: 0 auto; padding: 12px 20px; }
header { border-left: 8px solid #888; background: #fff; }
header.state-passed { border-color: #1a7f37; } header.state-failed { border-color: #cf222e; }
header.state-error, header.state-interrupted { border-color: #9a6700; }
h1 { margin: 4px 0; font-size: 20px; } h2 { font-size: 16px; margin: 18px 0 6px; }
.verdict { font-size: 18px; font-weight: 700; margin: 4px 0; } .reason { margin: 4px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.facts dt { color: #57606a; } dl.facts dd { margin: 0; word-break: break-all; }
nav button { font: inherit; margin-right: 6px; padding: 3px 10px; border: 1px solid #d0d7de; border-radius: 12px;
  background: #fff; cursor: pointer; }
nav button[aria-pressed="true"] { background: #1d2126; color: #fff; }
.group-note { color: #57606a; margin: 0 0 6px; }
.row { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; margin: 4px 0; padding: 4px 10px; }
.row > summary, .row > .line { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.row > summary { cursor: pointer; }
.badge { font-size: 12px; font-weight: 700; text-transform: uppercase; min-width: 62px; }
.row[data-state="failed"] .badge { color: #cf222e; } .row[data-state="passed"] .badge { color: #1a7f37; }
.row[data-state="blocked"] .badge { color: #9a6700; } .row[data-state="skipped"] .badge { color: #57606a; }
.name { font-weight: 600; font-family: ui-monospace, monospace; } .kind, .time, .note { color: #57606a; }
.finding { border-top: 1px solid #eaeef2; padding: 6px 0; }
.finding h3 { font-size: 14px; margin: 4px 0; }
.finding dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 4px 0; }
.finding dt { color: #57606a; } .finding dd { margin: 0; }
pre { margin: 2px 0; padding: 6px 8px; background: #f6f8fa; border-radius: 4px; white-space: pre-wrap;
  word-break: break-all; font: 12px/1.4 ui-monospace, monospace; max-height: 360px; overflow: auto; }
.exchange { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
.exchange h4, .finding h4 { margin: 6px 0 2px; font-size: 13px; }
.omitted { color: #57606a; font-style: italic; }
details.sent > summary { cursor: pointer; color: #57606a; margin: 6px 0 2px; }
"""

_SCRIPT = """
(function () {
  var buttons = document.querySelectorAll("nav.filters button");
  function show(state) {
    document.body.setAttribute("data-filter", state);
    buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.state === state)); });
    document.querySelectorAll("section.group").forEach(function (group) {
      group.hidden = state !== "all" && !group.querySelector('.row[data-state="' + state + '"]');
    });
  }
  buttons.forEach(function (b) { b.addEventListener("click", function () { show(b.dataset.state); }); });
})();
"""


def _filter_css() -> str:
    """A row whose state is not the chosen filter is hidden (the script sets `data-filter`)."""
    return "\n".join(f'body[data-filter="{s}"] .row:not([data-state="{s}"]) {{ display: none; }}' for s in STATES)


def _pre(text: str, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f"<pre{klass}>{escape(text)}</pre>"


def _dl(pairs: Iterable[tuple[str, str]], css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    items = "".join(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in pairs)
    return f"<dl{klass}>{items}</dl>"


def _message(title: str, message: HttpMessage | None, missing: str) -> str:
    if message is None:
        return f"<div><h4>{title}</h4><p>{escape(missing)}</p></div>"
    head = "\n".join([message.start, *(f"{name}: {value}" for name, value in message.headers)])
    text = f"{head}\n\n{message.body}" if message.body else head
    return f"<div><h4>{title}</h4>{_pre(text)}</div>"


def _exchange(finding: Finding, open_: bool) -> str:
    """Request and answer side by side, folded after a row's first finding (bodies can be long)."""
    request = _message("Request", finding.request, "")
    response = _message("Response", finding.response, "no response")
    opening = '<details class="sent" open>' if open_ else '<details class="sent">'
    return f'{opening}<summary>Request and response</summary><div class="exchange">{request}{response}</div></details>'


def _finding(number: int, finding: Finding) -> str:
    parts = [f'<div class="finding"><h3>{number}. {escape(finding.message)}</h3>']
    shown = [(label, value) for label, value in (("expected", finding.expected), ("got", finding.got)) if value]
    if shown or finding.notes:
        items = "".join(f"<dt>{escape(label)}</dt><dd>{_pre(value)}</dd>" for label, value in shown)
        items += "".join(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in finding.notes)
        parts.append(f"<dl>{items}</dl>")
    if finding.repro:
        parts.append(f"<h4>Reproduce</h4>{_pre(finding.repro, 'repro')}")
    if finding.request is not None:
        parts.append(_exchange(finding, number == 1))
    parts.append("</div>")
    return "".join(parts)


def _row_line(row: Row) -> str:
    time = f'<span class="time">{row.duration:.3f} s</span>' if row.duration is not None else ""
    kind = f'<span class="kind">{escape(row.kind)}</span>' if row.kind else ""
    note = f'<span class="note">{escape(row.note)}</span>' if row.note else ""
    badge = f'<span class="badge">{escape(row.state)}</span>'
    return f'{badge}<span class="name">{escape(row.name)}</span>{kind}{time}{note}'


def _row(row: Row) -> str:
    attributes = f'class="row" data-state="{escape(row.state)}" data-name="{escape(row.name)}"'
    if not row.findings:
        return f'<div {attributes}><div class="line">{_row_line(row)}</div></div>'
    findings = "".join(_finding(n, f) for n, f in enumerate(row.findings, 1))
    if row.omitted:
        findings += f'<p class="omitted">… and {row.omitted} more distinct finding(s), not listed</p>'
    return f"<details {attributes} open><summary>{_row_line(row)}</summary>{findings}</details>"


def _groups(page: Page) -> str:
    """A section per group, in the order first seen; in each, failed rows first, then blocked, skipped, passed."""
    order: dict[str, list[Row]] = {}
    for row in page.rows:
        order.setdefault(row.group, []).append(row)
    rank = {state: n for n, state in enumerate(STATES)}
    sections = []
    for group, unsorted in order.items():
        rows = sorted(unsorted, key=lambda row: rank.get(row.state, len(STATES)))
        note = page.group_notes.get(group)
        note_html = f'<p class="group-note">{escape(note)}</p>' if note else ""
        body = "".join(_row(row) for row in rows)
        heading = f"<h2>{escape(group)}</h2>{note_html}"
        sections.append(f'<section class="group" data-group="{escape(group)}">{heading}{body}</section>')
    return "".join(sections) or "<p>No check ran.</p>"


def _filters(rows: tuple[Row, ...]) -> str:
    counts = {state: sum(row.state == state for row in rows) for state in STATES}
    buttons = [f'<button type="button" data-state="all" aria-pressed="true">all {len(rows)}</button>']
    buttons += [
        f'<button type="button" data-state="{state}" aria-pressed="false">{state} {counts[state]}</button>'
        for state in STATES
    ]
    return f'<nav class="filters" aria-label="Show only one state">{"".join(buttons)}</nav>'


def render_page(page: Page) -> str:
    """The page as one HTML document, nothing to fetch."""
    reason = f'<p class="reason">{escape(page.reason)}</p>' if page.reason else ""
    header = (
        f'<header class="run state-{escape(page.state)}"><h1>{escape(page.title)}</h1>'
        f'<p class="verdict">{escape(page.verdict)}</p>{reason}{_dl(page.facts, "facts")}</header>'
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(page.title)}: {escape(page.verdict)}</title>"
        f"<style>{_STYLE}{_filter_css()}</style></head>"
        f'<body data-filter="all">{header}{_filters(page.rows)}<main>{_groups(page)}</main>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
