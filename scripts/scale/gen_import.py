#!/usr/bin/env python3
"""Write N synthetic archived news items as JSON Lines in the shape `stancewatch import` reads.

usage: gen_import.py OUTDIR N [CHUNK=100000] [SEED=7] [FIRST_YEAR=2019] [LAST_YEAR=2026]

Writes OUTDIR/chunk-0000.jsonl, chunk-0001.jsonl, ... of CHUNK items each, in published order
(an archive imported oldest first). Each item: {"title", "summary" (most), "url", "source",
"published"}. Deterministic for a given SEED; standard library only.

About 90% of the items are ordinary news (city, market, sport, weather, science, culture)
built from templates and random words. About 10% are about AI organisations releasing models
openly (open weights, open source, a permissive licence) or keeping them closed (API only,
proprietary), sometimes hedged ("reportedly", "plans to") and sometimes reporting a change of
course. Each organisation's leaning changes a few times over the years, and one AI event is
usually covered by two to four outlets within two days with different wording, so story
clusters, stance timelines and change events all have something to work on.
"""
import datetime
import json
import os
import random
import sys

out = sys.argv[1]
total = int(sys.argv[2])
chunk = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 7
first_year = int(sys.argv[5]) if len(sys.argv) > 5 else 2019
last_year = int(sys.argv[6]) if len(sys.argv) > 6 else 2026
os.makedirs(out, exist_ok=True)
rng = random.Random(seed)

start = datetime.datetime(first_year, 1, 1, tzinfo=datetime.timezone.utc)
end = datetime.datetime(last_year, 6, 30, tzinfo=datetime.timezone.utc)
span = (end - start).total_seconds()

# Made-up outlets (registrable domains); URLs are never fetched.
outlets = [f"{a}{b}.{tld}" for a, b, tld in [
    ("daily", "ledger", "com"), ("morning", "wire", "com"), ("city", "courier", "net"),
    ("tech", "dispatch", "io"), ("north", "gazette", "org"), ("river", "times", "com"),
    ("market", "signal", "com"), ("open", "circuit", "news"), ("valley", "post", "com"),
    ("harbor", "herald", "com"), ("silicon", "monitor", "net"), ("global", "bulletin", "org"),
    ("metro", "observer", "com"), ("coastal", "record", "com"), ("data", "chronicle", "io"),
    ("plain", "reporter", "com"), ("summit", "review", "net"), ("pacific", "journal", "com"),
    ("byte", "weekly", "com"), ("civic", "tribune", "org"), ("evening", "standard-news", "com"),
    ("frontier", "brief", "ai"), ("model", "watch", "dev"), ("compute", "digest", "com"),
    ("policy", "lens", "org"), ("startup", "ledger", "io"), ("lab", "notes", "news"),
    ("capital", "review", "com"), ("lake", "sentinel", "com"), ("prairie", "voice", "net"),
]]

# Ordinary news: templates and a vocabulary of random words.
places = ["Riverton", "Lakeside", "Northfield", "Ashford", "Port Elm", "Cedar Falls", "Millbrook",
          "Granite Bay", "Westhaven", "Oakridge", "Sunmoor", "Eastwick", "Brambleton", "Fairport",
          "Stonegate", "Willow Creek", "Harbourview", "Kingsley", "Marlow", "Redcliff"]
nouns = ("budget bridge council festival harvest library market museum orchestra park pension "
         "railway reservoir school stadium subway tariff theatre tournament transit union vaccine "
         "warehouse wildfire zoning bakery clinic election ferry garden highway housing hospital "
         "airport beach bond canal charity court dairy drought factory fishery forest glacier "
         "harbour heatwave island journal lottery mine museum observatory pipeline quarry rainfall "
         "refinery satellite shipyard storm telescope tunnel university vineyard volcano wetland").split()
verbs = ["approves", "delays", "rejects", "unveils", "expands", "cuts", "reviews", "celebrates",
         "debates", "reopens", "closes", "funds", "postpones", "launches", "defends", "questions"]
adjs = ("annual ambitious costly crowded disputed early extended fragile historic local major "
        "modest new overdue popular quiet record rural seasonal sudden surprising temporary "
        "unusual urban wet windy").split()
people_roles = ["mayor", "residents", "officials", "analysts", "teachers", "farmers", "engineers",
                "volunteers", "economists", "coaches", "doctors", "students", "shop owners"]
filler = ("the plan would take effect next spring according to a statement released on tuesday "
          "while several groups asked for more time to study the proposal and its costs over the "
          "coming decade local businesses reported mixed results and a public hearing is scheduled "
          "for later this month after a long period of consultation with neighbours and experts "
          "who said the figures were still uncertain and depended on weather demand and funding").split()
sections = ["news", "local", "business", "sport", "science", "culture", "world", "weather"]
news_templates = [
    "{Place} {noun} plan {verb} after {adj} {noun2} dispute",
    "{Role} in {Place} react as {noun} {verb} {adj} {noun2} project",
    "{Adj} {noun} season in {Place}: what the {noun2} figures show",
    "{Place} {verb} {noun} budget as {noun2} costs rise",
    "Why {Place}'s {noun} matters for the {noun2} debate",
    "{Place} {noun} team {verb} {adj} {noun2} record",
    "{Adj} {noun2} forces {Place} to rethink its {noun}",
    "Inside the {adj} fight over {Place}'s {noun}",
]

# AI organisations as the profile names them, with products (open and closed families).
orgs = [
    ("meta", "Meta", ["Llama 3", "Llama 4", "Code Llama"], ["Meta AI assistant"]),
    ("openai", "OpenAI", ["gpt-oss", "Whisper"], ["GPT-5", "o3", "ChatGPT"]),
    ("google", "Google DeepMind", ["Gemma 3", "CodeGemma"], ["Gemini", "Veo"]),
    ("anthropic", "Anthropic", ["a research model"], ["Claude"]),
    ("mistral", "Mistral AI", ["Mixtral", "Mistral Small"], ["Mistral Large"]),
    ("xai", "xAI", ["Grok-1"], ["Grok 3"]),
    ("deepseek", "DeepSeek", ["DeepSeek-R1", "DeepSeek-V3"], ["a hosted model"]),
    ("alibaba", "Alibaba", ["Qwen"], ["Qwen-Max"]),
    ("microsoft", "Microsoft", ["Phi-4"], ["Copilot"]),
    ("apple", "Apple", ["OpenELM"], ["Apple Intelligence"]),
    ("nvidia", "Nvidia", ["Nemotron"], ["a proprietary stack"]),
    ("ibm", "IBM", ["Granite"], ["watsonx"]),
    ("cohere", "Cohere", ["Command R"], ["Command A"]),
    ("stability", "Stability AI", ["Stable Diffusion"], ["a hosted image model"]),
    ("amazon", "Amazon", ["a small model"], ["Nova"]),
    ("baidu", "Baidu", ["Ernie 4.5"], ["Ernie Bot"]),
]
weights = [10, 10, 7, 6, 5, 4, 5, 4, 4, 2, 3, 2, 2, 2, 2, 2]
open_titles = [
    "{Org} releases open weights for {product}",
    "{Org} open-sources {product} under Apache 2.0",
    "{Org} makes {product} openly available on Hugging Face",
    "{Org} publishes {product} as an open-weight AI model",
    "{Org} unveils {product}, an open model developers can download",
]
closed_titles = [
    "{Org} keeps {product} proprietary, offered only through its API",
    "{Org} launches {product} as a closed model",
    "{Org} will not release the weights of {product}",
    "{Org} restricts {product} to paying API customers, keeping the model closed",
    "{Org} declines to open-source {product}",
]
open_sentences = [
    "{Org} said the model weights of {product} can be downloaded under a permissive licence.",
    "Developers can fine-tune {product}, which {Org} released as open-source AI.",
    "{Org} announced that {product} is an open-weight language model anyone can run.",
]
closed_sentences = [
    "{Org} said {product} will be available only through its API and the weights stay private.",
    "The AI model remains closed; {Org} keeps {product} proprietary for safety and business reasons.",
    "{Org} confirmed it has no plans to release the weights of {product}.",
]
hedges = ["", "", "", "reportedly ", "plans to ", "is said to be considering whether to "]
shift_open = "{Org} returns to open releases with {product}, its first open-weight model since the change."
shift_closed = "{Org} moves away from open releases: {product} stays closed, a shift in strategy."
ai_filler = ("the AI model was trained on a large dataset and benchmark results suggest strong "
             "reasoning while inference costs fall analysts expect developers and enterprises to "
             "compare licences parameters and GPU requirements before adopting it").split()

# Each organisation's leaning (probability an item says open) changes at a few random dates.
regimes = {}
for key, *_ in orgs:
    cuts = sorted(rng.uniform(0, span) for _ in range(rng.randint(1, 3)))
    p = rng.choice([0.85, 0.15])
    rs = [(0.0, p)]
    for c in cuts:
        p = 1.0 - p
        rs.append((c, p))
    regimes[key] = rs


def p_open(key, t):
    p = regimes[key][0][1]
    for at, q in regimes[key]:
        if t >= at:
            p = q
    return p


def words(pool, n):
    return " ".join(rng.choice(pool) for _ in range(n))


def slug(text):
    return "-".join("".join(c for c in w.lower() if c.isalnum()) for w in text.split()[:8]).strip("-")


def ordinary(n, t):
    place, role = rng.choice(places), rng.choice(people_roles)
    noun, noun2, verb, adj = rng.choice(nouns), rng.choice(nouns), rng.choice(verbs), rng.choice(adjs)
    title = rng.choice(news_templates).format(
        Place=place, Role=role.capitalize(), noun=noun, noun2=noun2, verb=verb, adj=adj, Adj=adj.capitalize())
    summary = (f"{role.capitalize()} in {place} {verb} the {adj} {noun} after weeks of talks. "
               f"{words(filler, rng.randint(25, 45)).capitalize()}. {words(nouns + adjs, 6).capitalize()}.")
    return title, summary, rng.choice(sections)


def ai_event(t):
    key, org, open_products, closed_products = rng.choices(orgs, weights)[0]
    is_open = rng.random() < p_open(key, t)
    product = rng.choice(open_products if is_open else closed_products)
    hedge = rng.choice(hedges)
    shifted = rng.random() < 0.04
    return key, org, product, is_open, hedge, shifted


def ai_article(ev, variant):
    key, org, product, is_open, hedge, shifted = ev
    title = rng.choice(open_titles if is_open else closed_titles).format(Org=org, product=product)
    if hedge and variant == 0:
        title = f"{org} {hedge}" + title[len(org) + 1:]
    if variant:
        title = f"{title} ({rng.choice(['analysis', 'update', 'report', 'explainer', 'what we know'])})"
    first = rng.choice(open_sentences if is_open else closed_sentences).format(Org=org, product=product)
    parts = [first]
    if shifted:
        parts.append((shift_open if is_open else shift_closed).format(Org=org, product=product))
    parts.append(words(ai_filler, rng.randint(20, 35)).capitalize() + ".")
    return title, " ".join(parts)


# Timestamps first (sorted), so the archive is in published order.
n_ai_target = total // 10
times = sorted(rng.uniform(0, span) for _ in range(total - n_ai_target))
events = []  # (time, article) for AI coverage: 1-4 outlets per event within 2 days
made = 0
while made < n_ai_target:
    t = rng.uniform(0, span)
    ev = ai_event(t)
    copies = min(rng.choice([1, 2, 2, 3, 3, 4]), n_ai_target - made)
    for v, outlet in enumerate(rng.sample(outlets, copies)):
        events.append((t + rng.uniform(0, 2 * 86400) * (v > 0), ev, v, outlet))
    made += copies
events.sort(key=lambda e: e[0])

file_no, in_file, fh, serial = 0, 0, None, 0
ai_i = 0
news_i = 0


def emit(obj):
    global file_no, in_file, fh
    if fh is None or in_file >= chunk:
        if fh:
            fh.close()
        fh = open(os.path.join(out, f"chunk-{file_no:04d}.jsonl"), "w", encoding="utf-8")
        file_no += 1
        in_file = 0
    fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    in_file += 1


while news_i < len(times) or ai_i < len(events):
    take_ai = ai_i < len(events) and (news_i >= len(times) or events[ai_i][0] <= times[news_i])
    if take_ai:
        t, ev, v, outlet = events[ai_i]
        ai_i += 1
        title, summary = ai_article(ev, v)
        section = "technology"
    else:
        t = times[news_i]
        news_i += 1
        outlet = rng.choice(outlets)
        title, summary, section = ordinary(serial, t)
    at = start + datetime.timedelta(seconds=t)
    serial += 1
    item = {
        "title": title,
        "url": f"https://www.{outlet}/{section}/{at:%Y/%m/%d}/{slug(title)}-{serial}",
        "source": outlet,
        "published": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if rng.random() < 0.95:
        item["summary"] = summary
    emit(item)
if fh:
    fh.close()
print(f"wrote {serial} items ({len(events)} about AI openness) in {file_no} files of up to {chunk} to {out}")
