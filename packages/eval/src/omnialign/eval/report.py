"""The HTML report: what a reader needs first comes first.

1. A summary table: each model's mean score on each task with its 95% interval and n, the best model per
   task in bold, and a warning where a judge's verdicts could not be read (those items are left out of n).
2. One section per task: its plots (`plots.py`), sample outputs (the prompt with its image, audio or video,
   then each model's answer with its media, score and verdict), and every metric of the task, with
   intervals, in a table folded under the plots.

No number is printed as `nan`: a missing value reads "n/a" with the reason beside it. The page is one
self-contained folder (inline CSS, PNGs beside it, the sample outputs' media copied under `media/`,
relative links), so it can be copied or served as is.
"""

from __future__ import annotations

import html
import math
import shutil
from pathlib import Path
from typing import Any

from omnialign.eval.plots import (
    _safe,
    arena_bars,
    category_bars,
    moderation_bars,
    score_distribution,
    score_histogram,
    win_matrix,
)

Rows = list[dict[str, Any]]
MEDIA_KEYS = ("image", "audio", "video")
UNPARSED = "unparsed_verdicts["
CLIP = 600
"""Characters of a prompt, answer or verdict shown in sample outputs (samples.jsonl has the full text)."""
MEDIA_DIR = "media"
"""Subfolder of the report that holds copies of the media shown in sample outputs."""
MEDIA_TAGS = {
    "image": '<img src="{src}" alt="{alt}">',
    "audio": '<audio controls preload="metadata" src="{src}" title="{alt}"></audio>',
    "video": '<video controls preload="metadata" src="{src}" title="{alt}"></video>',
}

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --band: #f5f7fa; --accent: #2f6fde;
        --warn-bg: #fff4e5; --warn: #8a4b00; --bad: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 40px 0 8px; padding-top: 12px; border-top: 2px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 8px; }
.lead, .why, .n, .ci, figcaption, .meta { color: var(--muted); }
nav { margin: 12px 0 20px; display: flex; flex-wrap: wrap; gap: 8px; }
nav a { padding: 3px 10px; border: 1px solid var(--line); border-radius: 999px; text-decoration: none;
        color: var(--accent); font-size: 14px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { background: var(--band); font-weight: 600; }
tbody tr:nth-child(even) { background: #fbfcfd; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.value { font-weight: 500; font-variant-numeric: tabular-nums; }
.best .value { font-weight: 700; color: var(--accent); }
.ci, .n, .why { display: block; font-size: 12.5px; }
.na { font-weight: 600; color: var(--muted); }
.warning { background: var(--warn-bg); color: var(--warn); border-left: 4px solid #f5a524; padding: 10px 14px;
           margin: 12px 0; border-radius: 4px; }
.flag { display: block; font-size: 12.5px; color: var(--warn); }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 18px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; background: #fff; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; margin-top: 4px; }
details { margin: 12px 0; }
summary { cursor: pointer; color: var(--accent); }
.samples { display: grid; gap: 14px; }
.sample { border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
.sample header { background: var(--band); padding: 8px 12px; }
.sample .prompt { padding: 8px 12px; white-space: pre-wrap; }
.media { display: flex; flex-wrap: wrap; gap: 8px; margin: 4px 0; white-space: normal; }
.media img, .media video { max-width: 240px; max-height: 240px; image-rendering: pixelated;
                           border: 1px solid var(--line); border-radius: 4px; }
.media audio { width: 260px; }
.answers { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr));
           border-top: 1px solid var(--line); }
.answer { padding: 8px 12px; border-right: 1px solid var(--line); }
.answer:last-child { border-right: 0; }
.answer .text { white-space: pre-wrap; margin: 4px 0; }
.verdict { font-size: 13px; color: var(--muted); white-space: pre-wrap; }
.unparsed { color: var(--bad); font-weight: 600; }
code { background: var(--band); padding: 0 4px; border-radius: 3px; }
"""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _unparsed(results: Rows, task: str, model: str | None = None) -> list[dict[str, Any]]:
    """The task's `unparsed_verdicts[<role>]` entries (of one model, or of all)."""
    return [
        r
        for r in results
        if r["task"] == task and r["metric"].startswith(UNPARSED) and model in (None, r["model"])
    ]


def why_missing(entry: dict[str, Any], results: Rows) -> str:
    """Why an entry has no value, in words."""
    if entry["n"] == 0:
        unread = sum(int(r["value"]) for r in _unparsed(results, entry["task"], entry["model"]))
        if unread:
            return f"no readable verdict: {unread} unparseable"
        return "no items to score"
    return "not defined for these items (too few, or a single class)"


def _interval(entry: dict[str, Any]) -> str:
    if entry["ci_method"] == "none":
        return "no interval"
    if _missing(entry["ci_low"]):
        return "no interval (no items)"
    return f"[{entry['ci_low']:.3f}, {entry['ci_high']:.3f}] {entry['ci_method']}"


def value_cell(entry: dict[str, Any], results: Rows, best: bool = False) -> str:
    """A table cell: the value with its interval and n, or "n/a" and why."""
    if _missing(entry["value"]):
        inner = (
            f'<span class="na">n/a</span><span class="why">{html.escape(why_missing(entry, results))}</span>'
        )
    else:
        inner = f'<span class="value">{entry["value"]:.3f}</span><span class="ci">{_interval(entry)}</span>'
    flags = "".join(
        f'<span class="flag">⚠ {int(u["value"])} of {u["n"]} verdicts of {html.escape(_role(u))} '
        "unparseable</span>"
        for u in _unparsed(results, entry["task"], entry["model"])
        if entry["metric"] == "score" and u["value"] > 0
    )
    return (
        f'<td class="num{" best" if best else ""}">{inner}<span class="n">n = {entry["n"]}</span>{flags}</td>'
    )


def _role(entry: dict[str, Any]) -> str:
    return entry["metric"][len(UNPARSED) : -1]


def summary_table(results: Rows, models: list[str], tasks: list[str]) -> str:
    """Model × task: the mean score of each, its interval and n; the best model(s) per task in bold."""
    scores = {(r["model"], r["task"]): r for r in results if r["metric"] == "score"}
    best: dict[str, set[str]] = {}
    for task in tasks:
        known = {m: scores[m, task]["value"] for m in models if not _missing(scores[m, task]["value"])}
        top = max(known.values(), default=None)
        best[task] = {m for m, v in known.items() if v == top} if len(models) > 1 else set()
    head = "".join(f'<th><a href="#{_anchor(t)}">{html.escape(t)}</a></th>' for t in tasks)
    body = "".join(
        f"<tr><th>{html.escape(m)}</th>"
        + "".join(value_cell(scores[m, t], results, m in best[t]) for t in tasks)
        + "</tr>"
        for m in models
    )
    return f"<table><thead><tr><th>model</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def metrics_table(results: Rows) -> str:
    """Every entry: model, task, metric, value with interval and n (n/a and why where there is none)."""
    body = "".join(
        f"<tr><td>{html.escape(r['model'])}</td><td>{html.escape(r['task'])}</td>"
        f"<td><code>{html.escape(r['metric'])}</code></td>{value_cell(r, results)}</tr>"
        for r in results
    )
    head = "<tr><th>model</th><th>task</th><th>metric</th><th>value · 95% interval · n</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"


def _warning(results: Rows) -> str:
    unread = [r for r in results if r["metric"].startswith(UNPARSED) and r["value"] > 0]
    if not unread:
        return ""
    items = "".join(
        f"<li>{html.escape(r['task'])}, judge <code>{html.escape(_role(r))}</code>, "
        f"{html.escape(r['model'])}: {int(r['value'])} of {r['n']}</li>"
        for r in unread
    )
    return (
        '<div class="warning"><strong>Unparseable verdicts.</strong> These judges gave no '
        "<code>[[rating]]</code> for some items; the items are left out of the means (and of n), never "
        f"guessed:<ul>{items}</ul></div>"
    )


def _anchor(task: str) -> str:
    return "task-" + "".join(c if c.isalnum() else "-" for c in task)


def _clip(text: str) -> str:
    return html.escape(text if len(text) <= CLIP else text[:CLIP] + " …")


def media_tag(kind: str, source: Path, directory: Path, name: str) -> str:
    """`source` as an `<img>`, `<audio>` or `<video>`, copied to `<directory>/media/<name><suffix>` so the
    report folder stays self-contained; a file that is not there reads as such, in red, not a broken tag."""
    if not source.is_file():
        return f'<span class="unparsed">[{kind}: {html.escape(str(source))} not found]</span>'
    target = directory / MEDIA_DIR / f"{name}{source.suffix.lower()}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return MEDIA_TAGS[kind].format(src=html.escape(target.relative_to(directory).as_posix()), alt=kind)


def _media_block(tags: list[str]) -> str:
    return f'<div class="media">{"".join(tags)}</div>' if tags else ""


def _prompt(inputs: dict[str, Any], media_root: Path, directory: Path, stem: str) -> str:
    """The system turn (the task's context) if any, the prompt's media (paths relative to `media_root`, the
    tasks' data root), then its text."""
    media = [
        media_tag(kind, media_root / path, directory, f"{stem}-prompt-{kind}")
        for kind, path in inputs.items()
        if kind in MEDIA_KEYS
    ]
    system = inputs.get("system")
    shown = f'<span class="meta">system: {_clip(system)}</span>\n' if system is not None else ""
    shown += f"{_media_block(media)}{_clip(inputs['prompt'])}"
    reference = inputs.get("reference")
    if reference is not None:
        shown += f'\n<span class="meta">reference: {_clip(reference)}</span>'
    return shown


def _answer(row: dict[str, Any], directory: Path, stem: str) -> str:
    score = (
        '<span class="unparsed">unparseable verdict</span>'
        if row["score"] is None
        else f'score <span class="value">{row["score"]:.3f}</span>'
    )
    cost = ""
    if row["cost_verdict"] is not None:
        shown = "unparseable" if row["cost"] is None else f"{row['cost']:.3f}"
        cost = f'<div class="verdict">cost {shown}: {_clip(row["cost_verdict"])}</div>'
    media = [
        media_tag(part["type"], Path(part["path"]), directory, f"{stem}-{i}")
        for i, part in enumerate(row["output_media"])
    ]
    return (
        f'<div class="answer"><strong>{html.escape(row["model"])}</strong> · {score}'
        f'{_media_block(media)}<div class="text">{_clip(row["output"])}</div>'
        f'<div class="verdict">verdict: {_clip(row["verdict"])}</div>{cost}</div>'
    )


def samples_block(task_rows: Rows, limit: int, media_root: Path, directory: Path) -> str:
    """The first `limit` items of a task: the prompt with its media, then every model's answer (its media
    too), score and verdict side by side. Media are copied under `directory` (see `media_tag`), named by
    task and position, never by id or model name, so no two files can share a name."""
    ids = list(dict.fromkeys(r["id"] for r in task_rows))[:limit]
    task = _anchor(task_rows[0]["task"])
    cards = []
    for position, item in enumerate(ids):
        answers = [r for r in task_rows if r["id"] == item]
        first, stem = answers[0], f"{task}-{position}"
        shown = "".join(_answer(r, directory, f"{stem}-answer{m}") for m, r in enumerate(answers))
        cards.append(
            f'<article class="sample"><header><strong>{html.escape(item)}</strong>'
            f' <span class="meta">· {html.escape(first["category"])}</span></header>'
            f'<div class="prompt">{_prompt(first["inputs"], media_root, directory, stem)}</div>'
            f'<div class="answers">{shown}</div></article>'
        )
    total = len(dict.fromkeys(r["id"] for r in task_rows))
    note = f'<p class="meta">{len(ids)} of {total} items; all of them are in samples.jsonl.</p>'
    return f'<div class="samples">{"".join(cards)}</div>{note}'


def _figures(images: list[tuple[str, str]]) -> str:
    return (
        '<div class="figures">'
        + "".join(
            f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            for name, caption in images
        )
        + "</div>"
    )


def _page(title: str, lead: str, body: str, directory: Path) -> Path:
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1><p class='lead'>{lead}</p>{body}</main></body></html>\n"
    )
    path = directory / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _task_images(task: str, task_rows: Rows, results: Rows, models: list[str], directory: Path) -> list:
    images = [
        (score_histogram(task, task_rows, directory / f"{task}-scores.png"), "score distribution per model"),
        (category_bars(task, task_rows, directory / f"{task}-categories.png"), "mean score per category"),
    ]
    if len(models) > 1:
        images.append(
            (win_matrix(task, results, models, directory / f"{task}-winrate.png"), "pairwise win rates")
        )
    if any(r["cost"] is not None for r in task_rows):
        safety = category_bars(task, task_rows, directory / f"{task}-safety.png", _safe, "safe rate")
        images.append((safety, "safe rate per category (cost ≤ 0)"))
    if any(r["task"] == task and r["metric"].startswith("arena_vs[") for r in results):
        images.append(
            (arena_bars(task, results, directory / f"{task}-arena.png"), "arena against the baseline")
        )
    return images


def _task_section(
    task: str, rows: Rows, results: Rows, models: list[str], directory: Path, samples: int, media_root: Path
) -> str:
    task_rows = [r for r in rows if r["task"] == task]
    task_results = [r for r in results if r["task"] == task]
    judges = sorted({_role(r) for r in _unparsed(results, task)})
    judged_by = ", ".join(f"<code>{html.escape(j)}</code>" for j in judges) or "no judge (rule-scored)"
    return (
        f'<section id="{_anchor(task)}"><h2>{html.escape(task)}</h2>'
        f'<p class="meta">family: {html.escape(task_rows[0]["family"])} · judged by {judged_by} · '
        f"{len(dict.fromkeys(r['id'] for r in task_rows))} items</p>"
        f"{_figures(_task_images(task, task_rows, results, models, directory))}"
        f"<h3>Sample outputs</h3>{samples_block(task_rows, samples, media_root, directory)}"
        f"<details><summary>All {len(task_results)} metrics of {html.escape(task)}</summary>"
        f"{metrics_table(task_results)}</details></section>"
    )


def write_report(
    results: Rows, rows: Rows, directory: Path, media_root: Path = Path("."), samples: int = 4
) -> Path:
    """`report.html` and its PNGs under `directory`; returns the HTML path.

    Args:
        results: The results.json entries.
        rows: The per-sample rows (samples.jsonl).
        directory: Where the page, its PNGs and copies of the shown media go.
        media_root: The folder the rows' prompt media paths (`inputs`) are relative to: the run's data root.
        samples: Items per task shown with every model's answer and verdict.
    """
    directory.mkdir(parents=True, exist_ok=True)
    models = list(dict.fromkeys(r["model"] for r in rows))
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    nav = "<nav>" + "".join(f'<a href="#{_anchor(t)}">{html.escape(t)}</a>' for t in tasks) + "</nav>"
    body = (
        f"{nav}<h2>Summary</h2><p class='meta'>Mean score per task (0–1 for rated tasks), 95% interval, and "
        f"n, the items with a score; the best model per task in bold.</p>{_warning(results)}"
        f"{summary_table(results, models, tasks)}"
        + "".join(_task_section(t, rows, results, models, directory, samples, media_root) for t in tasks)
    )
    lead = f"{len(models)} models ({html.escape(', '.join(models))}) on {len(tasks)} tasks."
    return _page("OmniAlign evaluation", lead, body, directory)


def write_score_report(results: Rows, rows: Rows, kind: str, directory: Path) -> Path:
    """`report.html` for a score-model benchmark: the score distribution, then the results table."""
    directory.mkdir(parents=True, exist_ok=True)
    image = score_distribution(rows, kind, directory / f"{kind}-distribution.png")
    caption = "chosen vs rejected scores" if kind == "reward" else "costs of safe vs unsafe answers"
    body = f"{_figures([(image, caption)])}<h2>Results</h2>{metrics_table(results)}"
    return _page(f"OmniAlign {kind}-model benchmark", f"{len(rows)} preference pairs.", body, directory)


def write_moderation_report(results: Rows, directory: Path) -> Path:
    """`report.html` for a moderation benchmark: the per-category bars, then the results table."""
    directory.mkdir(parents=True, exist_ok=True)
    image = moderation_bars(results, directory / "moderation-categories.png")
    body = f"{_figures([(image, 'F1 and AUROC per harm category')])}<h2>Results</h2>{metrics_table(results)}"
    return _page("OmniAlign moderation benchmark", "Per-category detection quality.", body, directory)
