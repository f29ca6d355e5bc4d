"""The soak test's news world: feeds whose items appear over time, some of them edited later.

Everything is generated from a seed when the feed server starts. Relevant items are AI-openness
news built from templates (an organisation, a model, an open or closed act); each such event is
covered by one to four outlets with differently worded headlines, so the daemon has real story
clusters to form. Ordinary items (local news, sport, weather, markets) fill the rest, including
look-alikes the classifier must not take for AI news (the Mistral wind, a llama farm).

Standard library only.
"""

import datetime
import hashlib
import html
import json
import random
from dataclasses import dataclass, field

ORGS = [
    ("Meta", ["Llama"]),
    ("OpenAI", ["GPT", "gpt-oss"]),
    ("Mistral AI", ["Mixtral", "Codestral"]),
    ("Google", ["Gemma", "Gemini"]),
    ("DeepSeek", ["DeepSeek-V", "DeepSeek-R"]),
    ("Alibaba", ["Qwen"]),
    ("Anthropic", ["Claude"]),
    ("xAI", ["Grok"]),
    ("Microsoft", ["Phi"]),
    ("Nvidia", ["Nemotron"]),
    ("IBM", ["Granite"]),
    ("Moonshot AI", ["Kimi"]),
    ("Cohere", ["Command"]),
    ("Stability AI", ["Stable Diffusion"]),
    ("Zhipu AI", ["GLM"]),
    ("Amazon", ["Nova"]),
    ("Baidu", ["ERNIE"]),
    ("Tencent", ["Hunyuan"]),
    ("Databricks", ["DBRX"]),
    ("Allen Institute for AI", ["OLMo"]),
]
CODENAMES = ["Aurora", "Borealis", "Cinder", "Drift", "Ember", "Fjord", "Glacier", "Harbor", "Iris",
             "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Onyx", "Prism", "Quartz", "Raven",
             "Sable", "Tundra", "Umber", "Vesper", "Willow", "Zephyr", "Atlas", "Basalt", "Comet",
             "Dune", "Echo", "Falcon", "Garnet", "Helix", "Indigo", "Jasper", "Kodiak", "Lotus"]
CONTEXTS = ["for coding assistants", "aimed at hospitals", "for on-device translation",
            "for robotics research", "ahead of its developer conference", "after months of testing",
            "trained on {n} trillion tokens", "for European languages", "for small businesses",
            "with a {n}0k-token context window", "for scientific research", "for legal document review",
            "built for chemistry labs", "tuned for customer service", "for video generation",
            "for mathematical reasoning", "for farming advice", "for speech recognition"]
# Headlines of one event share its organisation, model and context; different events rarely
# share more than the organisation: verbs and phrasing are picked per headline.
OPEN_VERBS = ["releases", "unveils", "launches", "ships", "debuts", "rolls out", "publishes", "puts out"]
OPEN_OBJECTS = ["open-weight {model} model", "{model} AI model with open weights", "{model} model as open source",
                "open {model} model weights", "{model}, an open-weight AI model"]
OPEN_TITLES = [
    "{org} {verb} {obj} {ctx}",
    "{org} {verb} {obj} {ctx}",
    "{org} open-sources its {model} AI model {ctx}",
    "{model} AI model weights released by {org} {ctx}",
]
CLOSED_TITLES = [
    "{org} will not release the weights of its {model} AI model {ctx}",
    "{org} withholds {model} model weights {ctx}",
    "No open weights for {model} AI model, {org} says {ctx}",
    "{org} refuses to publish {model} model weights {ctx}",
    "{model} model stays closed: {org} will not share weights {ctx}",
]


def headline(rng, stance, ctx):
    t = rng.choice(OPEN_TITLES if stance == "open" else CLOSED_TITLES)
    obj = rng.choice(OPEN_OBJECTS).format(**ctx)
    return t.format(verb=rng.choice(OPEN_VERBS), obj=obj, **ctx)


OPEN_SENTENCES = [
    "{org} said on {day} that {model} can be downloaded and run locally.",
    "The weights of {model}, a {params}-billion-parameter model, are published under a permissive licence.",
    "Developers can fine-tune {model} without asking {org} for permission.",
    "{org} open-sourced the training code alongside the {model} weights.",
]
CLOSED_SENTENCES = [
    "{org} said {model} will only be offered through its API.",
    "{org} will not publish the weights or the training data of {model}.",
    "{org} said it will not release the {params}-billion-parameter {model} weights, citing safety.",
    "Access to {model} is limited to paying business customers, {org} said.",
]
AI_FILLER = [
    "Analysts expect the decision to shape how smaller labs build on large models.",
    "The announcement came at a developer event on {day}.",
    "Benchmarks published with the release compare it with last year's systems.",
    "Investors have poured billions into model makers this year.",
]

CITIES = ["Lyon", "Porto", "Leeds", "Graz", "Utrecht", "Gdansk", "Bilbao", "Aarhus", "Turin", "Cork",
          "Brno", "Ghent", "Malmo", "Tampere", "Basel"]
THINGS = ["parks", "the tram line", "school meals", "the harbour", "bike lanes", "the library",
          "street lighting", "the swimming pool", "flood defences", "the old market hall"]
TEAMS = ["Rovers", "United", "Athletic", "Wanderers", "City", "Rangers", "Albion", "Harriers"]
COMPANIES = ["Nordbank", "Alpenstahl", "Baltic Freight", "Iberia Foods", "Rheinwerk", "Celtic Mills"]
REGIONS = ["Provence", "the Rhone valley", "Languedoc", "the Camargue"]
ORDINARY_TITLES = [
    "{city} council approves {n} million budget for {thing}",
    "{team} beat {team2} {a}-{b} in cup quarter-final",
    "Heavy rain expected in {city} this weekend",
    "{company} shares rise {a}.{b}% after quarterly results",
    "Mistral winds to batter {region} coast on {day}",
    "Llama farm near {city} opens to visitors",
    "New ferry link between {city} and {city2} announced",
    "{company} to cut {n}0 jobs at {city} plant",
    "Museum in {city} returns {n} artefacts",
    "Roadworks close main bridge in {city} for {a} weeks",
]
ORDINARY_SENTENCES = [
    "Officials in {city} said the work would start in the spring.",
    "The decision followed a long debate and a close vote.",
    "Residents have been asked to share their views before {day}.",
    "The club said tickets for the next match sold out within hours.",
    "Forecasters warned of strong gusts and local flooding.",
    "Shares in {company} have gained {a}% this year.",
    "Unions said they would meet management next week.",
    "The farm keeps {n} animals and runs school visits.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass
class Item:
    id: int
    feed: int
    appear: float            # unix time the item shows up in its feed
    published: float | None  # the date the feed gives (None: no date)
    title: str
    summary: str
    relevant: bool           # meant as AI-openness news
    event: int | None        # the shared event it covers, if any
    edit_at: float | None = None  # when its text changes (None: never)
    edit_title: str = ""
    edit_summary: str = ""


@dataclass
class Feed:
    index: int
    fmt: str                 # rss | atom | json
    guids: bool              # items carry GUIDs (else identified by link)
    validators: bool         # ETag / Last-Modified sent
    always_fails: str | None # the failure this feed always answers with
    items: list = field(default_factory=list)


def outlet(feed: int) -> str:
    return f"outlet{feed:04d}.example"


def feed_name(feed: int) -> str:
    return f"Soak Outlet {feed:04d}"


class World:
    """All feeds and their items, from `seed`, for a run starting at `start` lasting `minutes`."""

    def __init__(self, seed: int, n_feeds: int, n_failing: int, start: float, minutes: float):
        self.rng = random.Random(seed)
        self.start = start
        self.n_feeds = n_feeds
        rng = self.rng
        failing_kinds = ["always_500", "always_reset", "always_404", "always_malformed"]
        step = max(1, n_feeds // max(1, n_failing))
        failing = {i * step: failing_kinds[i % len(failing_kinds)] for i in range(min(n_failing, n_feeds))}
        self.feeds = []
        for f in range(n_feeds):
            fmt = "atom" if f % 10 == 3 else "json" if f % 25 == 7 else "rss"
            self.feeds.append(Feed(f, fmt, guids=f % 10 != 5, validators=f % 10 != 8, always_fails=failing.get(f)))
        healthy = [f for f in range(n_feeds) if f not in failing]
        self.next_id = 0
        end = start + minutes * 60 + 600
        backlog = 2 * 86400

        # Shared AI-openness events, before and during the run, each covered by 1-4 outlets.
        n_back_events = max(20, n_feeds // 4)
        n_new_events = max(10, int(minutes * 60 / 20))  # one every ~20 s
        times = [start - rng.uniform(0, 7 * 86400) for _ in range(n_back_events)]
        times += [start + rng.uniform(30, minutes * 60) for _ in range(n_new_events)]
        for e, t in enumerate(sorted(times)):
            org, models = rng.choice(ORGS)
            name = rng.choice(CODENAMES)
            if rng.random() < 0.5:
                name = f"{rng.choice(models)} {name}"
            model = f"{name} {rng.randint(2, 9)}.{rng.randint(0, 9)}"
            stance = "open" if rng.random() < 0.55 else "closed"
            ctx = self._ctx(org=org, model=model)
            ctx["ctx"] = rng.choice(CONTEXTS).format(**ctx)
            k = rng.choice([1, 1, 2, 2, 3, 4])
            for j, f in enumerate(rng.sample(healthy, k)):
                appear = t + (rng.uniform(0, 600) if j else 0)
                title = headline(rng, stance, ctx)
                if rng.random() < 0.2:
                    title += f" - {feed_name(f)}"
                summary = self._summary(ctx, OPEN_SENTENCES if stance == "open" else CLOSED_SENTENCES, AI_FILLER)
                self._add(f, appear, title, summary, True, e, end)

        # Ordinary news: a backlog per feed, then new items at random through the run.
        for f in range(n_feeds):
            for _ in range(15):
                self._ordinary(f, start - rng.uniform(0, backlog), end)
            t = start
            while True:
                t += rng.expovariate(1 / (25 * 60))
                if t > end:
                    break
                self._ordinary(f, t, end)
        for feed in self.feeds:
            feed.items.sort(key=lambda i: (i.appear, i.id))
        self.relevant_items = sum(i.relevant for fd in self.feeds for i in fd.items)
        self.total_items = sum(len(fd.items) for fd in self.feeds)

    def _ctx(self, **kw):
        rng = self.rng
        city, city2 = rng.sample(CITIES, 2)
        team, team2 = rng.sample(TEAMS, 2)
        ctx = dict(city=city, city2=city2, team=team, team2=team2, thing=rng.choice(THINGS),
                   company=rng.choice(COMPANIES), region=rng.choice(REGIONS), day=rng.choice(DAYS),
                   n=rng.randint(2, 90), a=rng.randint(0, 9), b=rng.randint(0, 9),
                   params=rng.choice([3, 7, 8, 12, 24, 70, 120, 405]))
        ctx.update(kw)
        return ctx

    def _summary(self, ctx, main, filler):
        rng = self.rng
        parts = rng.sample(main, 2) + rng.sample(filler, rng.randint(1, 2))
        return " ".join(p.format(**ctx) for p in parts)

    def _ordinary(self, f, appear, end):
        ctx = self._ctx()
        title = self.rng.choice(ORDINARY_TITLES).format(**ctx)
        summary = self._summary(ctx, ORDINARY_SENTENCES, ORDINARY_SENTENCES)
        self._add(f, appear, title, summary, False, None, end)

    def _add(self, f, appear, title, summary, relevant, event, end):
        rng = self.rng
        published = appear
        r = rng.random()
        if r < 0.02:
            published = None                              # no date: the fetch time is used
        elif r < 0.10:
            published = appear - rng.uniform(60, 3 * 3600)  # dated earlier than it appears (late)
        item = Item(self.next_id, f, appear, published, title, summary, relevant, event)
        self.next_id += 1
        if appear < self.start and rng.random() < 0.03:
            item.edit_at = self.start + rng.uniform(30, max(60.0, end - self.start - 600))  # edited during the run
        elif appear >= self.start and rng.random() < 0.08:
            item.edit_at = appear + rng.uniform(120, 1200)
        if item.edit_at is not None:
            item.edit_title = title if rng.random() < 0.7 else "Updated: " + title
            item.edit_summary = summary + " This story has been updated with a statement."
        self.feeds[f].items.append(item)

    # ---- what a feed shows at a given time ----

    def visible(self, f: int, now: float, limit: int = 20):
        items = self.feeds[f].items
        lo, hi = 0, len(items)
        while lo < hi:  # first item appearing after now
            mid = (lo + hi) // 2
            if items[mid].appear <= now:
                lo = mid + 1
            else:
                hi = mid
        return items[max(0, lo - limit):lo][::-1]  # newest first

    def state(self, f: int, now: float):
        """(etag, last_modified unix time, visible items with their current text)."""
        shown = []
        last = self.start - 3 * 86400
        for it in self.visible(f, now):
            edited = it.edit_at is not None and it.edit_at <= now
            title, summary = (it.edit_title, it.edit_summary) if edited else (it.title, it.summary)
            changed = it.edit_at if edited else it.appear
            last = max(last, changed)
            shown.append((it, title, summary, edited))
        key = ",".join(f"{it.id}{'e' if e else ''}" for it, _, _, e in shown)
        etag = '"' + hashlib.sha1(f"{f}:{key}".encode()).hexdigest()[:16] + '"'
        return etag, int(last), shown

    def render(self, f: int, base_url: str, shown, pad: str = "") -> bytes:
        """The feed document. `pad`, when given, is text added to the first item (huge bodies)."""
        feed = self.feeds[f]
        name = feed_name(f)
        site = f"https://www.{outlet(f)}/"
        entries = []
        for n, (it, title, summary, edited) in enumerate(shown):
            link = f"https://www.{outlet(f)}/news/{it.id}-{slug(it.title)}?utm_source=rss"
            body = summary + (pad if n == 0 else "")
            entries.append((it, title, body, link, edited))
        if feed.fmt == "json":
            doc = {"version": "https://jsonfeed.org/version/1.1", "title": name, "home_page_url": site,
                   "feed_url": f"{base_url}/feeds/{f:04d}.json", "items": []}
            for it, title, body, link, edited in entries:
                d = {"id": f"soak-{f}-{it.id}", "url": link, "title": title, "content_text": body}
                if it.published is not None:
                    d["date_published"] = iso(it.published)
                if edited:
                    d["date_modified"] = iso(it.edit_at)
                doc["items"].append(d)
            return json.dumps(doc, ensure_ascii=False).encode()
        if feed.fmt == "atom":
            out = ['<?xml version="1.0" encoding="utf-8"?>',
                   '<feed xmlns="http://www.w3.org/2005/Atom">',
                   f"<title>{html.escape(name)}</title>", f'<link href="{site}"/>',
                   f"<id>urn:soak:feed:{f}</id>", f"<updated>{iso(self.start)}</updated>"]
            for it, title, body, link, edited in entries:
                out.append("<entry>")
                out.append(f"<title>{html.escape(title)}</title>")
                out.append(f'<link href="{html.escape(link)}"/>')
                out.append(f"<id>urn:soak:{f}:{it.id}</id>")
                stamp = it.published if it.published is not None else it.appear
                if it.published is not None:
                    out.append(f"<published>{iso(it.published)}</published>")
                out.append(f"<updated>{iso(it.edit_at if edited else stamp)}</updated>")
                out.append(f"<summary>{html.escape(body)}</summary>")
                out.append("</entry>")
            out.append("</feed>")
            return ("\n".join(out) + "\n").encode()
        out = ['<?xml version="1.0" encoding="UTF-8"?>', '<rss version="2.0">', "<channel>",
               f"<title>{html.escape(name)}</title>", f"<link>{site}</link>",
               f"<description>{html.escape(name)} news</description>"]
        for it, title, body, link, edited in entries:
            out.append("<item>")
            out.append(f"<title>{html.escape(title)}</title>")
            out.append(f"<link>{html.escape(link)}</link>")
            if feed.guids:
                out.append(f'<guid isPermaLink="false">soak-{f}-{it.id}</guid>')
            if it.published is not None:
                out.append(f"<pubDate>{rfc822(it.published)}</pubDate>")
            out.append(f"<description><![CDATA[<p>{html.escape(body)}</p>]]></description>")
            out.append("</item>")
        out += ["</channel>", "</rss>"]
        return ("\n".join(out) + "\n").encode()


def slug(text: str) -> str:
    s = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(p for p in s.split("-") if p)[:60]


def iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc822(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
