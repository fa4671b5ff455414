"""The owner's page as HTML (owner.py serves it): first, while Segmind refuses the page's key, that alert
(key_alert.py); today's spend against the budget, clips by outcome and refusal rule, Enhance calls apart,
bar charts (inline SVG) per hour today and per day, the top visitors, the latest events.
Every value from the record is escaped; nothing here reads a key or an address (the record has none)."""

from __future__ import annotations

import collections
import shlex
from datetime import datetime, timedelta, timezone
from html import escape

from ray_studio.client.errors import API_KEYS_PAGE, BILLING_PAGE
from ray_studio.client.wording import format_usd
from ray_studio.web.key_alert import KeyAlert
from ray_studio.web.record import OUTCOMES, SpendEvent

UTC = timezone.utc
LATEST = 50

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:16px;color:#1f2328}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.1em;margin:1.4em 0 .4em}
.tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{border:1px solid #d0d7de;border-radius:8px;padding:8px 12px;
min-width:120px}.tile b{display:block;font-size:1.3em}
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border-bottom:1px solid #eaeef2;padding:4px 6px;
text-align:left;vertical-align:top}.scroll{overflow-x:auto}code{font-size:.85em;word-break:break-all}
.paused{background:#fff1e5;border:1px solid #d4a72c;border-radius:8px;padding:8px 12px}
.alert{background:#ffebe9;border:2px solid #cf222e;border-radius:8px;padding:10px 14px;color:#82071e;
overflow-wrap:anywhere}
.alert a{color:inherit}
button{font:inherit;padding:6px 14px;border-radius:6px;border:1px solid #8c959f;background:#f6f8fa;cursor:pointer}
svg{width:100%;height:auto;max-height:220px}svg text{font:10px system-ui,sans-serif;fill:#57606a}
.bar{fill:#4f7fd9}form.inline{display:inline}
"""


def owner_page(
    events: list[SpendEvent],
    *,
    now: float,
    days: int,
    budget: float | None,
    counted_today: float | None,
    paused: bool | None,
    sees_prompts: bool,
    alert: KeyAlert | None = None,
) -> str:
    today_start = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    today = [e for e in events if e.at >= today_start.timestamp()]
    body = [
        "<h1>Ray Studio · the owner's view</h1>",
        _alert(alert, now),
        _switch(paused),
        _today(today, budget, counted_today),
        "<h2>Spend per hour today (UTC)</h2>",
        _bars(_per_hour(today, today_start), [f"{h:02d}" for h in range(24)], label_every=3),
        f"<h2>Spend per day, last {days} days</h2>",
        _bars(*_per_day(events, today_start, days), label_every=5),
        f"<h2>Top visitors by spend, last {days} days</h2>",
        _visitors(events),
        f"<h2>Latest {LATEST} events</h2>",
        _latest(events[-LATEST:][::-1], sees_prompts),
        "<h2>Download</h2>",
        f'<form action="/owner/spend.csv" method="get">Every event of the last <input name="days" type="number" '
        f'min="1" max="{days}" value="{days}" style="width:4em"> days <button>CSV</button></form>',
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">'
        f"<title>Ray Studio · owner</title><style>{_STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def _alert(alert: KeyAlert | None, now: float) -> str:
    """While Segmind refuses the page's key, before anything else."""
    if alert is None:
        return ""
    line = escape(alert.line(now))
    for page in (BILLING_PAGE, API_KEYS_PAGE):
        line = line.replace(page, f'<a href="{page}">{page}</a>')
    return f'<p class="alert" role="alert" id="key-alert"><b>{line}</b></p>'


def _switch(paused: bool | None) -> str:
    if paused is None:
        return '<p class="paused">The pause switch could not be read (the record\'s storage did not answer).</p>'
    if paused:
        return (
            '<p class="paused" id="paused"><b>Paused.</b> Every call on the page\'s key is refused; visitors '
            'with their own key go on. <form class="inline" method="post" action="/owner/resume">'
            '<button id="resume">Resume</button></form></p>'
        )
    return (
        "<p>Visitors may spend the page's key within its limits. "
        '<form class="inline" method="post" action="/owner/pause"><button id="pause">Pause spending now</button>'
        "</form></p>"
    )


def _tile(label: str, value: str) -> str:
    return f'<div class="tile">{escape(label)}<b>{escape(value)}</b></div>'


def _today(today: list[SpendEvent], budget: float | None, counted: float | None) -> str:
    """The day's spend (clips and Enhance), clips by outcome, Enhance calls apart."""
    spent = sum(e.cost for e in today)
    clips = [e for e in today if e.kind != "enhance"]
    rewrites = [e for e in today if e.kind == "enhance"]
    outcomes = collections.Counter(e.outcome for e in clips)
    rules = collections.Counter(e.rule for e in clips if e.outcome == "refused")
    tiles = [_tile("Spent today (UTC)", format_usd(spent) + (f" of {format_usd(budget)}" if budget else ""))]
    if counted is not None:
        tiles.append(_tile("Counted by the limits", format_usd(counted)))
    tiles.append(_tile("Spent on clips", format_usd(sum(e.cost for e in clips))))
    tiles += [_tile(f"clips {outcome}", str(outcomes[outcome])) for outcome in OUTCOMES]
    asked = sum(e.outcome != "refused" for e in rewrites)
    tiles.append(_tile("Enhance calls · spent", f"{asked} · {format_usd(sum(e.cost for e in rewrites))}"))
    by_rule = ", ".join(f"{escape(rule)}: {n}" for rule, n in rules.most_common()) or "none"
    refused = sum(e.outcome == "refused" for e in rewrites)
    note = (
        "<p>“Counted by the limits” also holds clips still being made; the record has each clip once it ended. "
        f"Clips refused today by rule: {by_rule}. Enhance calls are the prompt rewrites sent to Segmind on the "
        f"page's key; {refused} more were refused.</p>"
    )
    return '<h2>Today</h2><div class="tiles" id="today">' + "".join(tiles) + "</div>" + note


def _per_hour(today: list[SpendEvent], start: datetime) -> list[float]:
    hours = [0.0] * 24
    for e in today:
        hours[min(23, int((e.at - start.timestamp()) // 3600))] += e.cost
    return hours


def _per_day(events: list[SpendEvent], today_start: datetime, days: int) -> tuple[list[float], list[str]]:
    first = today_start - timedelta(days=days - 1)
    totals = [0.0] * days
    for e in events:
        index = int((e.at - first.timestamp()) // 86_400)
        if 0 <= index < days:
            totals[index] += e.cost
    return totals, [f"{first + timedelta(days=i):%d %b}" for i in range(days)]


def _bars(values: list[float], labels: list[str], label_every: int) -> str:
    """A bar chart: one bar per value, the largest labelled with its dollars."""
    width, height, top = 600, 160, max(values) or 1.0
    step = width / len(values)
    parts = [f'<svg viewBox="0 0 {width} {height + 30}" role="img" aria-label="spend in US dollars">']
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        bar = height * value / top
        x = i * step
        title = f"<title>{escape(label)}: {format_usd(value)}</title>"
        parts.append(f'<rect class="bar" x="{x + 1:.1f}" y="{height - bar:.1f}" width="{step - 2:.1f}" '
                     f'height="{bar:.1f}">{title}</rect>')  # fmt: skip
        if i % label_every == 0:
            parts.append(f'<text x="{x:.1f}" y="{height + 14}">{escape(label)}</text>')
    parts.append(f'<text x="{width}" y="{height + 28}" text-anchor="end">highest: {format_usd(max(values))}</text>')
    return "".join(parts) + "</svg>"


def _visitors(events: list[SpendEvent], count: int = 10) -> str:
    spend: dict[str, float] = collections.defaultdict(float)
    made: collections.Counter[str] = collections.Counter()
    refused: collections.Counter[str] = collections.Counter()
    for e in events:
        spend[e.visitor] += e.cost
        made[e.visitor] += e.outcome == "made" and e.kind != "enhance"
        refused[e.visitor] += e.outcome == "refused"
    ranked = sorted(spend, key=lambda v: (-spend[v], -refused[v]))[:count]
    if not ranked:
        return "<p>No visitor has used the page's key yet.</p>"
    rows = "".join(
        f"<tr><td><code>{escape(v)}</code></td><td>{format_usd(spend[v])}</td><td>{made[v]}</td>"
        f"<td>{refused[v]}</td></tr>"
        for v in ranked
    )
    head = "<tr><th>Visitor (salted hash)</th><th>Spent</th><th>Clips made</th><th>Refused</th></tr>"
    return f'<div class="scroll"><table id="visitors">{head}{rows}</table></div>'


def _latest(events: list[SpendEvent], sees_prompts: bool) -> str:
    if not events:
        return "<p>Nothing recorded yet.</p>"
    head = "<tr><th>Time (UTC)</th><th>What</th><th>Outcome</th><th>Cost</th><th>Job</th><th>Visitor</th></tr>"
    rows = [_event_row(e, sees_prompts) for e in events]
    return f'<div class="scroll"><table id="events">{head}{"".join(rows)}</table></div>'


def _event_row(e: SpendEvent, sees_prompts: bool) -> str:
    when = f"{datetime.fromtimestamp(e.at, UTC):%d %b %H:%M:%S}"
    what = escape(f"{e.kind} · {e.seconds} s · {e.shape}" if e.seconds else e.kind)
    if sees_prompts and e.prompt:
        what += f"<br><small>{escape(e.prompt[:200])}</small>"
    outcome = escape(e.outcome + (f" ({e.rule})" if e.rule else ""))
    job = f"<code>{escape(e.job_id)}</code>" if e.job_id else ""
    if e.outcome == "failed-billed" and e.job_id:
        command = f"python ray_client.py --resume {shlex.quote(e.job_id)} -o {shlex.quote(e.job_id + '.mp4')}"
        job += f"<br><code>{escape(command)}</code>"
    cells = [when, what, outcome, format_usd(e.cost), job, f"<code>{escape(e.visitor)}</code>"]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"
