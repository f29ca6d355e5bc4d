//! A labelled test set for the deduplication rules, and the figures they reach on it.
//!
//! Everything here is generated from this file's own templates with a fixed seed
//! (`fastrand::Rng::with_seed(7)`), so the set is the same on every run.
//!
//! # The stories
//!
//! An *event* is one real-world happening: an organisation from the profile, a scenario (an
//! open-weight release, a switch to API-only access, a licence change, an authors' lawsuit, a
//! court ruling, a hire, a funding round, a capital-spending plan, a delay, signing the EU code
//! of practice, a Senate bill), a product, and details (numbers, names, weekday). Each scenario
//! has several headline and summary templates written the way different outlets would word the
//! same news, so two templates of one scenario filled with one event are two articles about
//! the same event. Outlets have their own URL shapes and headline suffixes (" - The Verge",
//! " | Reuters", " • The Register", " | heise online" …), and aggregators (Google News, MSN,
//! Yahoo, Flipboard) re-list articles under their own addresses.
//!
//! # The pairs (label `duplicate` / `same_event` / `different`)
//!
//! 1. `syndicated`: identical title and summary at another outlet's URL, sometimes with the
//!    outlet's suffix on the title → duplicate.
//! 2. `url-variant`: the same article under a tracking / AMP / mobile / fragment form of its
//!    URL, sometimes with a suffixed, updated or A/B-tested title, sometimes days later →
//!    duplicate.
//! 3. `reformatted`: the same article re-listed by an aggregator with a re-cased, suffixed or
//!    re-punctuated title, and the summary kept, cut, emptied or replaced by the title →
//!    duplicate.
//! 4. `rewrite`: another outlet's article on the same event (other headline template, other
//!    summary template, same organisation, product and details) → same_event.
//! 5. `same-org`: one organisation, two different events within 70 h (release vs licence vs
//!    lawsuit vs hire …) → different.
//! 6. `same-scenario`: the same kind of event (often the same headline template) for two
//!    organisations within 70 h → different.
//! 7. `unrelated` (different organisations and events, any time, or off-topic news);
//!    `recurring` (the same headline about a new event of the same kind 4–12 days later);
//!    `late-copy` (identical title and summary at another URL 80–300 h later) → different.
//!    The late copy is labelled different on purpose: stancewatch's stories live within a
//!    news cycle, and a copy reappearing days later (a re-run, a digest, an aggregator
//!    catching up) is a new appearance of the story; from a headline and summary alone it also
//!    cannot be told apart from a recurring headline about a new event.
//!
//! # The figures
//!
//! - Duplicate detection: positive = label `duplicate`, predicted = `Relation::Duplicate`.
//! - Same-story detection: positive = `duplicate` or `same_event`, predicted = `Duplicate` or
//!   `Related`.
//! - Cluster purity on ~150 stories in known events (copies, URL variants, reformatted
//!   listings and rewrites of each event, plus events that share organisations or scenarios):
//!   clusters are the connected components of the graph whose edges are pairs with a relation
//!   other than `Unrelated`; purity = Σ over clusters of its largest true event / stories. The
//!   partition must not change when the stories arrive in another order.
//!
//! Every misclassified pair is printed (`cargo test --test dedup_pairs -- --nocapture`). The
//! targets (duplicate precision ≥ 0.98, recall ≥ 0.95, purity ≥ 0.95, order independence) are
//! asserted after the report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, TimeZone, Utc};
use stancewatch::dedup::text::jaccard;
use stancewatch::dedup::{DedupSettings, Relation, Signature, Signer, canonical_url, relation};
use stancewatch::stance::Profile;

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

struct Org {
    name: &'static str,
    /// How a second reference or another outlet names it.
    alt: &'static str,
    products: &'static [&'static str],
    /// The person who speaks for it.
    person: &'static str,
}

const ORGS: &[Org] = &[
    Org {
        name: "Meta",
        alt: "Facebook owner Meta",
        products: &["Llama 5", "Llama 5 Behemoth"],
        person: "Mark Zuckerberg",
    },
    Org { name: "OpenAI", alt: "ChatGPT maker OpenAI", products: &["gpt-oss-2", "GPT-5.5"], person: "Sam Altman" },
    Org { name: "Google", alt: "Google DeepMind", products: &["Gemma 4", "Gemini 3 Flash"], person: "Demis Hassabis" },
    Org {
        name: "Anthropic",
        alt: "Claude maker Anthropic",
        products: &["Claude Opus 5", "Claude Sonnet 5"],
        person: "Dario Amodei",
    },
    Org {
        name: "Mistral AI",
        alt: "French start-up Mistral AI",
        products: &["Mixtral 3", "Magistral 2"],
        person: "Arthur Mensch",
    },
    Org { name: "xAI", alt: "Elon Musk's xAI", products: &["Grok 5", "Grok 4.5"], person: "Elon Musk" },
    Org {
        name: "DeepSeek",
        alt: "Chinese lab DeepSeek",
        products: &["DeepSeek R2", "DeepSeek-V4"],
        person: "Liang Wenfeng",
    },
    Org { name: "Alibaba", alt: "Alibaba Cloud", products: &["Qwen4", "Qwen3.5-Max"], person: "Eddie Wu" },
    Org { name: "Microsoft", alt: "Microsoft AI", products: &["Phi-5", "MAI-2"], person: "Mustafa Suleyman" },
    Org {
        name: "Apple",
        alt: "iPhone maker Apple",
        products: &["OpenELM 2", "Apple Foundation Models 2"],
        person: "Craig Federighi",
    },
    Org { name: "Nvidia", alt: "chipmaker Nvidia", products: &["Nemotron 4", "Cosmos 2"], person: "Jensen Huang" },
];

// Indices into ORGS, for scenarios that only some organisations have.
const META: usize = 0;
const OPENAI: usize = 1;
const GOOGLE: usize = 2;
const ANTHROPIC: usize = 3;
const MISTRAL: usize = 4;
const XAI: usize = 5;
const ALIBABA: usize = 7;
const MICROSOFT: usize = 8;
const APPLE: usize = 9;
const NVIDIA: usize = 10;

const RESEARCHERS: &[&str] = &[
    "Priya Raman",
    "Tomás Ferreira",
    "Lena Vogt",
    "Kenji Sato",
    "Amara Okafor",
    "Daniel Weiss",
    "Hyun-woo Park",
    "Sofia Marin",
    "Ravi Menon",
    "Ingrid Holm",
];
const INVESTORS: &[&str] =
    &["Thrive Capital", "SoftBank", "Andreessen Horowitz", "Lightspeed", "General Catalyst", "Abu Dhabi's MGX"];
const DAYS: &[&str] = &["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
const MONTHS: &[&str] = &["January", "February", "March", "April", "May", "June"];

/// One kind of happening, worded by several outlets.
struct Scenario {
    name: &'static str,
    /// Organisations it can happen to (empty: all).
    orgs: &'static [usize],
    headlines: &'static [&'static str],
    summaries: &'static [&'static str],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "release",
        orgs: &[],
        headlines: &[
            "{org} releases {product} as an open-weight model",
            "{org} unveils {product}, its most capable open model yet",
            "{product} is out: {org} publishes the weights under a permissive licence",
            "{alt} launches {product} to take on {rival}",
            "{org}'s {product} can now be downloaded and run locally",
            "{org} open-sources {product} in a bid to win over developers",
            "Hands-on with {product}, the open model {org} just shipped",
            "{org} debuts {product} and claims it beats {rival}",
        ],
        summaries: &[
            "{org} on {day} made {product} available for download, publishing the weights of a {n}-billion-parameter model. The company said developers may fine-tune it for commercial use.",
            "The {product} family comes in several sizes, the largest with {n} billion parameters. {org} says it outperforms models from {rival} on coding and reasoning benchmarks.",
            "{alt} has put {product} on Hugging Face. Early testers say the model is fast but still trails the best closed systems.",
            "Developers can now download {product}, the latest open-weight model from {org}. It was trained on {m} trillion tokens, according to a technical report published alongside it.",
            "In a blog post, {person} said releasing {product} openly would let researchers study and improve it. Critics note that the training data remains secret.",
        ],
    },
    Scenario {
        name: "api-only",
        orgs: &[],
        headlines: &[
            "{org} restricts access to {product} weights",
            "{org} will no longer publish {product} weights, citing safety",
            "{alt} keeps {product} closed amid misuse fears",
            "{product} goes API-only as {org} pulls the open weights",
            "{org} limits who can download {product}",
            "Developers fume as {org} locks down {product}",
        ],
        summaries: &[
            "{org} said on {day} that {product} will only be offered through its API from now on. The change ends a run of open releases that made the company popular with developers.",
            "Researchers who want the {product} weights must now apply for access, {org} said, citing misuse of earlier models.",
            "Keeping {product} closed marks a reversal for {alt}. {person} said the model was too capable to publish in full.",
            "{org} removed the download links for {product} from its website this week. A spokesperson said existing users can keep their copies.",
        ],
    },
    Scenario {
        name: "licence",
        orgs: &[],
        headlines: &[
            "{org} changes the {product} licence to bar large rivals",
            "New {product} terms from {org} worry open-source developers",
            "{org} tightens licensing rules for {product}",
            "What the new {product} license from {org} means for startups",
            "{org} adds a user cap to the {product} licence",
            "Is {product} still open? {org} rewrites its licence",
        ],
        summaries: &[
            "The revised licence for {product} forbids use by companies with more than {n} million monthly users. {org} says most developers are unaffected.",
            "{org} published new terms for {product} on {day}. Lawyers say the clauses covering derived models are stricter than before.",
            "Open-source advocates say the {product} licence no longer meets the Open Source Definition. {org} disputes that reading.",
            "Anyone building on {product} must now show attribution to {org} and accept an acceptable-use policy. The terms take effect next month.",
        ],
    },
    Scenario {
        name: "authors-lawsuit",
        orgs: &[],
        headlines: &[
            "Authors sue {org} over books used to train {product}",
            "{org} hit with copyright lawsuit over {product}",
            "{org} faces class action from writers over {product} training data",
            "Novelists take {org} to court, saying {product} was built on pirated books",
            "{org} sued by {n} authors over AI training",
        ],
        summaries: &[
            "A group of {n} authors filed suit in federal court on {day}, alleging {org} trained {product} on pirated copies of their books. The complaint seeks class-action status.",
            "The lawsuit claims {org} downloaded millions of books from shadow libraries to build {product}. {org} said it would defend itself vigorously.",
            "Writers including several bestselling novelists say {product} can reproduce passages of their work. Their lawyers want damages and a court order against further training.",
        ],
    },
    Scenario {
        name: "court-ruling",
        orgs: &[],
        headlines: &[
            "Judge rules {org} can keep training on news articles",
            "{org} wins early ruling in publishers' copyright case",
            "Court dismisses most claims against {org} over {product}",
            "Publishers lose first round against {org} in AI copyright fight",
            "Ruling hands {org} a win on fair use",
        ],
        summaries: &[
            "A federal judge on {day} dismissed most of the claims brought by news publishers against {org}. The judge said training {product} on public articles was likely fair use.",
            "The decision is an early setback for publishers suing AI developers. {org} said the ruling confirmed that its training methods are lawful.",
            "The court allowed one claim over verbatim copying to proceed, but rejected the rest. Lawyers for the publishers said they would appeal.",
        ],
    },
    Scenario {
        name: "hire",
        orgs: &[],
        headlines: &[
            "{org} hires {researcher} from {rival} to lead {product}",
            "{org} poaches top researcher {researcher} from {rival}",
            "{researcher} leaves {rival} for {org}",
            "{rival} veteran {researcher} joins {org}",
            "{org} appoints former {rival} scientist {researcher} to run {product}",
            "Talent war: {org} lands {rival} researcher {researcher}",
        ],
        summaries: &[
            "{researcher} spent {years} years at {rival} before joining {org}, where they will oversee work on {product}. Neither company disclosed the pay package.",
            "The hire is the latest move in a talent war between {org} and {rival}. Pay for top researchers now exceeds ${m} million a year, recruiters say.",
            "{researcher}, a co-author of several widely cited papers on reasoning, announced the move on {day}. {org} confirmed the appointment.",
        ],
    },
    Scenario {
        name: "funding",
        orgs: &[OPENAI, ANTHROPIC, MISTRAL, XAI],
        headlines: &[
            "{org} raises ${n} billion at a ${m} billion valuation",
            "{org} valuation hits ${m} billion after new funding round",
            "{investor} leads ${n} billion round in {org}",
            "{org} lands ${n} billion as investors bet on {product}",
            "{org} closes ${n} billion funding deal",
            "Investors now value {org} at ${m} billion",
        ],
        summaries: &[
            "The round, led by {investor}, values {org} at ${m} billion including the new money. {org} plans to spend most of it on computing power.",
            "{org} has raised ${n} billion from investors including {investor}, more than doubling its valuation in under a year.",
            "The new funding will pay for data centres to train successors to {product}, {person} told staff on {day}. Rival {rival} raised money at a higher valuation last month.",
        ],
    },
    Scenario {
        name: "capex",
        orgs: &[META, GOOGLE, MICROSOFT, ALIBABA, APPLE, NVIDIA],
        headlines: &[
            "{org} to spend ${n} billion on AI data centres this year",
            "{org} raises its AI spending forecast to ${n} billion",
            "{org} commits ${n} billion to AI infrastructure",
            "{org} plans ${n} billion investment in AI computing",
            "{org} lifts capital spending as {product} demand grows",
        ],
        summaries: &[
            "{org} told investors on {day} that capital spending would reach ${n} billion, most of it for AI data centres. Shares fell in after-hours trading.",
            "The investment will pay for the chips needed to train models such as {product}, {person} said. Analysts had expected a smaller figure.",
            "{org} joins {rival} in lifting its AI budget. The company said demand for {product} was outstripping supply.",
        ],
    },
    Scenario {
        name: "delay",
        orgs: &[],
        headlines: &[
            "{org} delays {product} release",
            "{org} pushes back {product} launch over safety tests",
            "{product} postponed as {org} retrains the model",
            "{org} says {product} won't ship until {month}",
            "{org}'s {product} is late again",
            "Why {org} delayed {product}",
        ],
        summaries: &[
            "{org} said {product} needs more safety testing and will arrive later than planned. The model had been expected this month; it is now due in {month}.",
            "Internal benchmarks showed {product} falling short of expectations, according to people familiar with the matter. {org} declined to comment on the new timeline.",
            "The delay gives rivals such as {rival} more time to catch up. {person} said the company still intends to publish the weights.",
        ],
    },
    Scenario {
        name: "eu-code",
        orgs: &[],
        headlines: &[
            "{org} signs the EU code of practice for general-purpose AI",
            "{org} agrees to follow EU rules for general-purpose models",
            "{org} joins signatories of the EU's AI code of practice",
            "{org} will sign Brussels' voluntary AI code",
            "EU wins over {org} on its AI code of practice",
        ],
        summaries: &[
            "The voluntary code asks providers of general-purpose models to document training data and test for systemic risks. {org} is the latest company to sign.",
            "{org} said on {day} it would sign the code, which is meant to help companies comply with the AI Act. {rival} has refused to sign.",
            "Signing commits {org} to publishing summaries of the data used to train models such as {product}. Officials in Brussels welcomed the decision.",
        ],
    },
    Scenario {
        name: "senate-bill",
        orgs: &[],
        headlines: &[
            "Senate bill would force {org} to disclose how {product} was trained",
            "{org} opposes new Senate bill on AI training data",
            "Lawmakers target {org} and rivals with AI transparency bill",
            "{org} says Senate AI bill would hurt open models",
            "Bipartisan bill puts {org}'s {product} in the spotlight",
        ],
        summaries: &[
            "The bill, introduced on {day}, would require developers of large models such as {product} to disclose their training data. {org} called it unworkable.",
            "Senators said the proposal was prompted by reports about how {org} built {product}. The company said it already publishes model cards.",
            "Under the draft law, companies that release open weights would have to register models above {n} billion parameters. {org} and {rival} have lobbied against it.",
        ],
    },
];

/// Event ids of off-topic news start here.
const OFF_TOPIC_EVENT: usize = 1_000_000;

/// Whether two different events of one organisation in one week can concern the same product:
/// not a release and a delay of the same model.
fn may_share_product(a: usize, b: usize) -> bool {
    let names = [SCENARIOS[a].name, SCENARIOS[b].name];
    !(names.contains(&"release") && names.contains(&"delay"))
}

/// Scenarios whose headlines can recur about a new event of the same kind.
const RECURRING: &[&str] = &["authors-lawsuit", "court-ruling", "funding", "capex", "delay"];

/// News an AI feed also carries that is about none of the events above.
const OFF_TOPIC: &[(&str, &str)] = &[
    (
        "Apple unveils new iPad Pro with a brighter display",
        "The tablet goes on sale next week starting at $999. Apple also refreshed its keyboard case.",
    ),
    (
        "Nvidia shares slip as chip stocks retreat",
        "Semiconductor stocks fell for a third day as investors took profits. Nvidia closed down 3%.",
    ),
    (
        "Meta launches a cheaper Quest headset",
        "The new Meta Quest model costs $299 and ships in time for the holidays. Meta says it is lighter than before.",
    ),
    (
        "The mistral wind batters southern France",
        "Gusts of up to 120 km/h closed ports in Marseille. Forecasters expect the mistral to ease by Friday.",
    ),
    (
        "Llama farm becomes a tourist hit in the Andes",
        "Visitors queue to feed the animals at a farm near Cusco. The owners plan to double the herd.",
    ),
    (
        "EU fines Apple €500 million over App Store rules",
        "The European Commission said Apple blocked developers from steering users to cheaper offers. Apple will appeal.",
    ),
    (
        "Rust 1.95 released with faster compile times",
        "The new version of the programming language improves incremental builds. It also stabilises several library functions.",
    ),
    (
        "SpaceX launches 30 more Starlink satellites",
        "The Falcon 9 rocket lifted off from Florida on Tuesday evening. Musk said the network now has seven million users.",
    ),
    (
        "Microsoft fixes Outlook outage that hit thousands of users",
        "The email service was down for about four hours on Monday. Microsoft blamed a faulty configuration change.",
    ),
    (
        "Google Pixel 11 review: the best Android camera gets better",
        "The phone's camera is excellent in low light, and battery life is a day and a half. The price went up by $100.",
    ),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum PathStyle {
    /// `/2026/11/03/slug`
    Dated,
    /// `/technology/slug-2026-11-03/`
    Section,
    /// `/news/articles/123456/slug`
    Id,
    /// `/2026/11/03/slug.html`
    Html,
    /// `/story/slug/`
    Story,
}

struct Outlet {
    name: &'static str,
    host: &'static str,
    /// How the outlet signs its own titles.
    suffix: &'static str,
    style: PathStyle,
}

const OUTLETS: &[Outlet] = &[
    Outlet { name: "The Verge", host: "www.theverge.com", suffix: " - The Verge", style: PathStyle::Dated },
    Outlet { name: "Reuters", host: "www.reuters.com", suffix: " | Reuters", style: PathStyle::Section },
    Outlet { name: "TechCrunch", host: "techcrunch.com", suffix: " | TechCrunch", style: PathStyle::Dated },
    Outlet { name: "Ars Technica", host: "arstechnica.com", suffix: " - Ars Technica", style: PathStyle::Dated },
    Outlet { name: "Wired", host: "www.wired.com", suffix: " | WIRED", style: PathStyle::Story },
    Outlet { name: "The Register", host: "www.theregister.com", suffix: " • The Register", style: PathStyle::Dated },
    Outlet { name: "VentureBeat", host: "venturebeat.com", suffix: " | VentureBeat", style: PathStyle::Section },
    Outlet { name: "Bloomberg", host: "www.bloomberg.com", suffix: " - Bloomberg", style: PathStyle::Id },
    Outlet { name: "Financial Times", host: "www.ft.com", suffix: " | Financial Times", style: PathStyle::Id },
    Outlet { name: "CNBC", host: "www.cnbc.com", suffix: " - CNBC", style: PathStyle::Html },
    Outlet { name: "heise online", host: "www.heise.de", suffix: " | heise online", style: PathStyle::Html },
    Outlet {
        name: "MIT Technology Review",
        host: "www.technologyreview.com",
        suffix: " | MIT Technology Review",
        style: PathStyle::Dated,
    },
    Outlet {
        name: "South China Morning Post",
        host: "www.scmp.com",
        suffix: " | South China Morning Post",
        style: PathStyle::Id,
    },
    Outlet { name: "The Guardian", host: "www.theguardian.com", suffix: " | The Guardian", style: PathStyle::Dated },
    Outlet { name: "ZDNET", host: "www.zdnet.com", suffix: " | ZDNET", style: PathStyle::Story },
    Outlet {
        name: "Tom's Hardware",
        host: "www.tomshardware.com",
        suffix: " | Tom's Hardware",
        style: PathStyle::Html,
    },
    Outlet {
        name: "Business Insider",
        host: "www.businessinsider.com",
        suffix: " - Business Insider",
        style: PathStyle::Story,
    },
    Outlet { name: "The Decoder", host: "the-decoder.com", suffix: " - THE DECODER", style: PathStyle::Story },
    Outlet { name: "Le Monde", host: "www.lemonde.fr", suffix: " - Le Monde.fr", style: PathStyle::Html },
    Outlet { name: "Axios", host: "www.axios.com", suffix: " - Axios", style: PathStyle::Dated },
];

// ---------------------------------------------------------------------------------------------
// Events and stories
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Event {
    id: usize,
    org: usize,
    scenario: usize,
    product: &'static str,
    rival: usize,
    researcher: &'static str,
    investor: &'static str,
    day: &'static str,
    month: &'static str,
    years: u32,
    n: u32,
    m: u32,
    /// Minutes after [`t0`].
    at: i64,
}

impl Event {
    fn scenario(&self) -> &'static Scenario {
        &SCENARIOS[self.scenario]
    }

    fn fill(&self, template: &str) -> String {
        let org = &ORGS[self.org];
        template
            .replace("{org}", org.name)
            .replace("{alt}", org.alt)
            .replace("{person}", org.person)
            .replace("{product}", self.product)
            .replace("{rival}", ORGS[self.rival].name)
            .replace("{researcher}", self.researcher)
            .replace("{investor}", self.investor)
            .replace("{day}", self.day)
            .replace("{month}", self.month)
            .replace("{years}", &self.years.to_string())
            .replace("{n}", &self.n.to_string())
            .replace("{m}", &self.m.to_string())
    }
}

#[derive(Clone, Debug)]
struct Story {
    /// Ground-truth event id ([`OFF_TOPIC_EVENT`] + index for off-topic news).
    event: usize,
    title: String,
    summary: String,
    url: String,
    /// Minutes after [`t0`].
    at: i64,
    outlet: usize,
    headline: usize,
    body: usize,
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap()
}

fn slug(title: &str) -> String {
    let words: Vec<String> =
        title.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(9).map(str::to_lowercase).collect();
    words.join("-")
}

fn title_case(title: &str) -> String {
    let words: Vec<String> = title
        .split(' ')
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect();
    words.join(" ")
}

/// The first `words` words and a "[…]", the way feeds cut summaries.
fn truncate(summary: &str, words: usize) -> String {
    let kept: Vec<&str> = summary.split_whitespace().take(words).collect();
    if kept.len() == summary.split_whitespace().count() {
        return summary.to_string();
    }
    format!("{} […]", kept.join(" "))
}

fn split_url(url: &str) -> (&str, &str) {
    let rest = url.strip_prefix("https://").expect("generated URLs are https");
    let at = rest.find('/').unwrap_or(rest.len());
    (&rest[..at], &rest[at..])
}

struct Gen {
    rng: fastrand::Rng,
    next_event: usize,
}

impl Gen {
    fn new() -> Gen {
        Gen { rng: fastrand::Rng::with_seed(7), next_event: 0 }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.usize(..items.len())]
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.u32(..100) < percent
    }

    fn token(&mut self, len: usize) -> String {
        (0..len).map(|_| self.rng.alphanumeric()).collect()
    }

    fn digits(&mut self, len: usize) -> String {
        (0..len).map(|_| self.rng.digit(10)).collect()
    }

    fn orgs_for(scenario: usize) -> Vec<usize> {
        let allowed = SCENARIOS[scenario].orgs;
        if allowed.is_empty() { (0..ORGS.len()).collect() } else { allowed.to_vec() }
    }

    fn scenarios_for(org: usize) -> Vec<usize> {
        (0..SCENARIOS.len()).filter(|&s| Self::orgs_for(s).contains(&org)).collect()
    }

    /// A new event: `org` and `scenario` as given or random (and compatible).
    fn event(&mut self, org: Option<usize>, scenario: Option<usize>, at: i64) -> Event {
        let (org, scenario) = match (org, scenario) {
            (Some(o), Some(s)) => (o, s),
            (Some(o), None) => (o, self.pick(&Self::scenarios_for(o))),
            (None, Some(s)) => (self.pick(&Self::orgs_for(s)), s),
            (None, None) => {
                let s = self.rng.usize(..SCENARIOS.len());
                (self.pick(&Self::orgs_for(s)), s)
            }
        };
        let rivals: Vec<usize> = (0..ORGS.len()).filter(|&r| r != org).collect();
        let id = self.next_event;
        self.next_event += 1;
        Event {
            id,
            org,
            scenario,
            product: self.pick(ORGS[org].products),
            rival: self.pick(&rivals),
            researcher: self.pick(RESEARCHERS),
            investor: self.pick(INVESTORS),
            day: self.pick(DAYS),
            month: self.pick(MONTHS),
            years: self.rng.u32(3..=12),
            n: self.rng.u32(3..=90),
            m: self.rng.u32(20..=400),
            at,
        }
    }

    fn outlet_other_than(&mut self, avoid: &[usize]) -> usize {
        loop {
            let o = self.rng.usize(..OUTLETS.len());
            if !avoid.contains(&o) {
                return o;
            }
        }
    }

    /// The title with an outlet's suffix: the aggregator style " - Name" or the outlet's own.
    fn suffixed(&mut self, title: &str, outlet: usize) -> String {
        let o = &OUTLETS[outlet];
        if self.rng.bool() { format!("{title} - {}", o.name) } else { format!("{title}{}", o.suffix) }
    }

    fn article_url(&mut self, outlet: usize, title: &str, at: i64) -> String {
        let o = &OUTLETS[outlet];
        let date = t0() + Duration::minutes(at);
        let (y, m, d) = (date.format("%Y"), date.format("%m"), date.format("%d"));
        let slug = slug(title);
        let path = match o.style {
            PathStyle::Dated => format!("/{y}/{m}/{d}/{slug}"),
            PathStyle::Section => format!("/technology/{slug}-{y}-{m}-{d}/"),
            PathStyle::Id => format!("/news/articles/{}/{slug}", self.digits(7)),
            PathStyle::Html => format!("/{y}/{m}/{d}/{slug}.html"),
            PathStyle::Story => format!("/story/{slug}/"),
        };
        format!("https://{}{path}", o.host)
    }

    /// One outlet's article on `ev` with headline template `h` and summary template `s`.
    fn article(&mut self, ev: &Event, h: usize, s: usize, outlet: usize, at: i64) -> Story {
        let headline = ev.fill(ev.scenario().headlines[h]);
        let title = if self.chance(25) { self.suffixed(&headline, outlet) } else { headline.clone() };
        let summary = ev.fill(ev.scenario().summaries[s]);
        let url = self.article_url(outlet, &headline, at);
        Story { event: ev.id, title, summary, url, at, outlet, headline: h, body: s }
    }

    /// An article on `ev` with templates other than those in `avoid`.
    fn fresh_article(&mut self, ev: &Event, avoid: &[&Story], at: i64) -> Story {
        let sc = ev.scenario();
        let h = loop {
            let h = self.rng.usize(..sc.headlines.len());
            if avoid.iter().all(|a| a.headline != h) || avoid.len() >= sc.headlines.len() {
                break h;
            }
        };
        let s = loop {
            let s = self.rng.usize(..sc.summaries.len());
            if avoid.iter().all(|a| a.body != s) || avoid.len() >= sc.summaries.len() {
                break s;
            }
        };
        let outlets: Vec<usize> = avoid.iter().map(|a| a.outlet).collect();
        let outlet = self.outlet_other_than(&outlets);
        self.article(ev, h, s, outlet, at)
    }

    fn random_article(&mut self, ev: &Event, at: i64) -> Story {
        self.fresh_article(ev, &[], at)
    }

    /// The same text republished at another outlet.
    fn syndicate(&mut self, src: &Story, at: i64) -> Story {
        let outlet = self.outlet_other_than(&[src.outlet]);
        let bare = strip_known_suffix(&src.title);
        let title = if self.chance(40) { self.suffixed(&bare, outlet) } else { bare.clone() };
        let url = self.article_url(outlet, &bare, at);
        Story { title, url, at, outlet, ..src.clone() }
    }

    /// The same article under another form of its URL.
    fn url_variant(&mut self, src: &Story, ev: &Event, at: i64) -> Story {
        let style = OUTLETS[src.outlet].style;
        let (host, path) = split_url(&src.url);
        let (host, path) = (host.to_string(), path.to_string());
        let amp_path = match style {
            PathStyle::Html => path.replace(".html", ".amp.html"),
            PathStyle::Section | PathStyle::Story => format!("{path}amp/"),
            PathStyle::Dated | PathStyle::Id => format!("{path}/amp"),
        };
        let url = match self.rng.u32(..12) {
            0 => format!("{}?utm_source=rss&utm_medium=rss&utm_campaign={}", src.url, slug(&src.title)),
            1 => format!("{}?fbclid=IwAR{}", src.url, self.token(30)),
            2 => format!("https://{host}{amp_path}"),
            3 => {
                format!("https://{}.cdn.ampproject.org/c/s/{host}{amp_path}", host.replace('-', "--").replace('.', "-"))
            }
            4 => match host.strip_prefix("www.") {
                Some(bare) => format!("https://m.{bare}{path}"),
                None => format!("https://www.{host}{path}"),
            },
            5 => format!("{}#{}", src.url, self.pick(&["comments", "article-body", "main"])),
            6 => format!("http://{host}{path}"),
            7 => {
                let q = self.pick(&[
                    "ref=hn",
                    "smid=tw-share",
                    "CMP=twt_gu",
                    "ocid=socialshare",
                    "mc_cid=4f1a&mc_eid=90b2",
                ]);
                format!("{}?{q}", src.url)
            }
            8 => format!("{}?{}", src.url, self.pick(&["amp=1", "amp", "outputType=amp"])),
            9 => format!("{}?utm_source=twitter&utm_medium=social&taid={}", src.url, self.digits(12)),
            10 => format!("{}?source=rss", src.url),
            _ => {
                let slash =
                    if path.ends_with('/') { path.trim_end_matches('/').to_string() } else { format!("{path}/") };
                format!("https://{host}{slash}?utm_source=newsletter&utm_content=top")
            }
        };
        let bare = strip_known_suffix(&src.title);
        let title = match self.rng.u32(..20) {
            0..9 => src.title.clone(),
            9..13 => self.suffixed(&bare, src.outlet),
            13..16 => {
                if self.rng.bool() {
                    format!("{bare} (updated)")
                } else {
                    format!("Update: {bare}")
                }
            }
            // A/B-tested headline: the outlet shows another wording at the same address.
            _ => {
                let sc = ev.scenario();
                let h = (src.headline + 1 + self.rng.usize(..sc.headlines.len() - 1)) % sc.headlines.len();
                ev.fill(sc.headlines[h])
            }
        };
        let summary = if self.chance(30) { truncate(&src.summary, 14) } else { src.summary.clone() };
        Story { title, summary, url, at, ..src.clone() }
    }

    /// An aggregator's listing of the same article: its own URL, a reformatted title.
    fn reformat(&mut self, src: &Story, at: i64) -> Story {
        let bare = strip_known_suffix(&src.title);
        let mut title = bare.clone();
        if self.chance(50) {
            title = title_case(&title);
        }
        if self.chance(30) {
            title = title.replace('\'', "’");
        }
        if self.chance(20) {
            title = title.replacen(": ", " — ", 1).replacen(", ", " – ", 1);
        }
        if self.chance(15) {
            title.push('.');
        }
        if self.chance(15) {
            title = title.replacen(' ', "\u{a0}", 2);
        }
        if self.chance(10) {
            title = title.to_lowercase();
        }
        if title == bare || self.chance(50) {
            title = self.suffixed(&title, src.outlet);
        }
        let summary = match self.rng.u32(..20) {
            0..7 => src.summary.clone(),
            7..13 => truncate(&src.summary, 12),
            13..16 => String::new(),
            _ => format!("{bare}\u{a0}\u{a0}{}", OUTLETS[src.outlet].name),
        };
        let url = match self.rng.u32(..4) {
            0 => format!("https://news.google.com/rss/articles/CBMi{}?oc=5", self.token(48)),
            1 => format!("https://www.msn.com/en-us/news/technology/{}/ar-AA1{}", slug(&bare), self.token(5)),
            2 => format!("https://finance.yahoo.com/news/{}-{}.html", slug(&bare), self.digits(9)),
            _ => format!(
                "https://flipboard.com/@{}/{}-{}",
                slug(OUTLETS[src.outlet].name).replace('-', ""),
                slug(&bare),
                self.token(8)
            ),
        };
        Story { title, summary, url, at, ..src.clone() }
    }

    fn off_topic(&mut self, at: i64) -> Story {
        let index = self.rng.usize(..OFF_TOPIC.len());
        let (title, summary) = OFF_TOPIC[index];
        let outlet = self.rng.usize(..OUTLETS.len());
        let url = self.article_url(outlet, title, at);
        Story {
            event: OFF_TOPIC_EVENT + index,
            title: title.to_string(),
            summary: summary.to_string(),
            url,
            at,
            outlet,
            headline: 0,
            body: 0,
        }
    }
}

/// The title without any suffix this file's outlets add (to re-sign a copy as another outlet).
fn strip_known_suffix(title: &str) -> String {
    for o in OUTLETS {
        for suffix in [o.suffix.to_string(), format!(" - {}", o.name)] {
            if let Some(head) = title.strip_suffix(&suffix) {
                return head.to_string();
            }
        }
    }
    title.to_string()
}

// ---------------------------------------------------------------------------------------------
// The labelled pairs
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Duplicate,
    SameEvent,
    Different,
}

impl Label {
    fn as_str(self) -> &'static str {
        match self {
            Label::Duplicate => "duplicate",
            Label::SameEvent => "same_event",
            Label::Different => "different",
        }
    }

    fn same_story(self) -> bool {
        self != Label::Different
    }
}

struct Pair {
    label: Label,
    category: &'static str,
    a: Story,
    b: Story,
}

const HOUR: i64 = 60;
const DAY: i64 = 24 * HOUR;

fn labelled_pairs() -> Vec<Pair> {
    let mut g = Gen::new();
    let mut pairs = Vec::new();
    let mut push = |label, category, a, b| pairs.push(Pair { label, category, a, b });

    // 1. Syndicated copies.
    for _ in 0..25 {
        let ev = g.event(None, None, 0);
        let a = g.random_article(&ev, 0);
        let at = g.rng.i64(10..30 * HOUR);
        let b = g.syndicate(&a, at);
        push(Label::Duplicate, "syndicated", a, b);
    }
    // 2. Tracking / AMP / mobile forms of one URL; most within a day, some days later.
    for _ in 0..25 {
        let ev = g.event(None, None, 0);
        let a = g.random_article(&ev, 0);
        let at = if g.chance(70) { g.rng.i64(0..24 * HOUR) } else { g.rng.i64(72 * HOUR + 1..200 * HOUR) };
        let b = g.url_variant(&a, &ev, at);
        push(Label::Duplicate, "url-variant", a, b);
    }
    // 3. Aggregator listings with re-cased, suffixed, re-punctuated titles.
    for _ in 0..22 {
        let ev = g.event(None, None, 0);
        let a = g.random_article(&ev, 0);
        let at = g.rng.i64(0..36 * HOUR);
        let b = g.reformat(&a, at);
        push(Label::Duplicate, "reformatted", a, b);
    }
    // 4. Another outlet's article on the same event.
    for _ in 0..62 {
        let ev = g.event(None, None, 0);
        let a = g.random_article(&ev, 0);
        let at = g.rng.i64(0..60 * HOUR);
        let mut b = g.fresh_article(&ev, &[&a], at);
        if g.chance(10) {
            b.summary.clear();
        }
        push(Label::SameEvent, "rewrite", a, b);
    }
    // 5. One organisation, two different events in the same week.
    for _ in 0..40 {
        let org = g.rng.usize(..ORGS.len());
        let e1 = g.event(Some(org), None, 0);
        let others: Vec<usize> = Gen::scenarios_for(org).into_iter().filter(|&s| s != e1.scenario).collect();
        let sc2 = g.pick(&others);
        let at = g.rng.i64(0..70 * HOUR);
        let mut e2 = g.event(Some(org), Some(sc2), at);
        if g.chance(70) && may_share_product(e1.scenario, sc2) {
            e2.product = e1.product;
        }
        let a = g.random_article(&e1, e1.at);
        let b = g.random_article(&e2, e2.at);
        push(Label::Different, "same-org", a, b);
    }
    // 6. The same kind of event at two organisations in the same week. Half the time the second
    //    article reuses the first one's headline template; its summary template is drawn
    //    independently, so now and then both carry the same boilerplate around different names.
    for _ in 0..36 {
        let sc = loop {
            let sc = g.rng.usize(..SCENARIOS.len());
            if Gen::orgs_for(sc).len() >= 2 {
                break sc;
            }
        };
        let e1 = g.event(None, Some(sc), 0);
        let others: Vec<usize> = Gen::orgs_for(sc).into_iter().filter(|&o| o != e1.org).collect();
        let org2 = g.pick(&others);
        let at = g.rng.i64(0..70 * HOUR);
        let e2 = g.event(Some(org2), Some(sc), at);
        let a = g.random_article(&e1, e1.at);
        let b = if g.rng.bool() {
            let s = g.rng.usize(..SCENARIOS[sc].summaries.len());
            let outlet = g.outlet_other_than(&[a.outlet]);
            g.article(&e2, a.headline, s, outlet, e2.at)
        } else {
            g.random_article(&e2, e2.at)
        };
        push(Label::Different, "same-scenario", a, b);
    }
    // 7a. Unrelated: other organisation and other scenario, any time in a fortnight; or
    //     off-topic news next to an AI story.
    for i in 0..22 {
        let e1 = g.event(None, None, 0);
        let at = g.rng.i64(0..14 * DAY);
        let a = g.random_article(&e1, 0);
        let b = if i % 4 == 3 {
            g.off_topic(at)
        } else {
            let e2 = loop {
                let e = g.event(None, None, at);
                if e.org != e1.org && e.scenario != e1.scenario {
                    break e;
                }
            };
            g.random_article(&e2, at)
        };
        push(Label::Different, "unrelated", a, b);
    }
    // 7b. A recurring headline about a new event of the same kind, 4–12 days later.
    for _ in 0..8 {
        let sc_name = g.pick(RECURRING);
        let sc = SCENARIOS.iter().position(|s| s.name == sc_name).unwrap();
        let e1 = g.event(None, Some(sc), 0);
        let at = g.rng.i64(4 * DAY..12 * DAY);
        let mut e2 = g.event(Some(e1.org), Some(sc), at);
        e2.product = e1.product;
        let a = g.random_article(&e1, 0);
        let outlet = g.rng.usize(..OUTLETS.len());
        let s = g.rng.usize(..SCENARIOS[sc].summaries.len());
        let b = g.article(&e2, a.headline, s, outlet, e2.at);
        push(Label::Different, "recurring", a, b);
    }
    // 7c. The same text at another URL more than 72 h later (see the header for the label).
    for _ in 0..7 {
        let ev = g.event(None, None, 0);
        let a = g.random_article(&ev, 0);
        let at = g.rng.i64(80 * HOUR..300 * HOUR);
        let b = g.syndicate(&a, at);
        push(Label::Different, "late-copy", a, b);
    }
    pairs
}

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

fn signer() -> Signer {
    Signer::new(&Profile::builtin(), DedupSettings::default())
}

fn sign(signer: &Signer, s: &Story) -> Signature {
    signer.sign(&s.title, &s.summary, canonical_url(&s.url).as_deref(), t0() + Duration::minutes(s.at))
}

#[derive(Default)]
struct Confusion {
    tp: usize,
    fp: usize,
    false_neg: usize,
    tn: usize,
}

impl Confusion {
    fn add(&mut self, actual: bool, predicted: bool) {
        match (actual, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.false_neg += 1,
            (false, false) => self.tn += 1,
        }
    }

    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fp) as f64 }
    }

    fn recall(&self) -> f64 {
        if self.tp + self.false_neg == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.false_neg) as f64 }
    }

    fn line(&self, name: &str) -> String {
        format!(
            "{name}: precision {:.3}  recall {:.3}  (tp {}, fp {}, fn {}, tn {})",
            self.precision(),
            self.recall(),
            self.tp,
            self.fp,
            self.false_neg,
            self.tn
        )
    }
}

fn expected(label: Label) -> Relation {
    match label {
        Label::Duplicate => Relation::Duplicate,
        Label::SameEvent => Relation::Related,
        Label::Different => Relation::Unrelated,
    }
}

/// What the rules saw in a pair: the inputs of each test in `relation`.
fn explain(a: &Signature, b: &Signature) -> String {
    let profile = Profile::builtin();
    let names = |id: &Option<usize>| id.map_or("-", |i| profile.events[i].0.as_str());
    let shared = a.entities.iter().filter(|e| b.entities.contains(e)).map(|&e| profile.entities[e].name.as_str());
    format!(
        "same url {}, same title key {}, shingle J {:.2}, title-word J {:.2}, shared orgs [{}], main events [{}] vs [{}], shared product {}",
        a.canonical_url.is_some() && a.canonical_url == b.canonical_url,
        a.wording.title_key == b.wording.title_key,
        jaccard(&a.wording.shingles, &b.wording.shingles),
        jaccard(&a.title_words, &b.title_words),
        shared.collect::<Vec<_>>().join(", "),
        names(&a.event),
        names(&b.event),
        a.products.iter().any(|p| b.products.contains(p)),
    )
}

fn hours_apart(a: &Story, b: &Story) -> f64 {
    (a.at - b.at).abs() as f64 / 60.0
}

#[test]
fn labelled_pairs_meet_the_duplicate_targets() {
    let pairs = labelled_pairs();
    let signer = signer();
    let mut dup = Confusion::default();
    let mut same = Confusion::default();
    let mut by_category: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    let mut misses = String::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();

    for (i, p) in pairs.iter().enumerate() {
        let (sa, sb) = (sign(&signer, &p.a), sign(&signer, &p.b));
        let r = relation(&sa, &sb, &signer.settings);
        assert_eq!(r, relation(&sb, &sa, &signer.settings), "relation must be symmetric (pair {i})");
        *counts.entry(p.label.as_str()).or_default() += 1;
        dup.add(p.label == Label::Duplicate, r == Relation::Duplicate);
        same.add(p.label.same_story(), r != Relation::Unrelated);
        let entry = by_category.entry((p.label.as_str(), p.category)).or_default();
        entry.1 += 1;
        if r == expected(p.label) {
            entry.0 += 1;
        } else {
            let _ = writeln!(
                misses,
                "#{i:<3} {} / {}: predicted {:?}, {:.1} h apart\n      A: {:?} <{}>\n         {:?}\n      B: {:?} <{}>\n         {:?}",
                p.label.as_str(),
                p.category,
                r,
                hours_apart(&p.a, &p.b),
                p.a.title,
                p.a.url,
                p.a.summary,
                p.b.title,
                p.b.url,
                p.b.summary,
            );
            let _ = writeln!(misses, "      why: {}", explain(&sa, &sb));
        }
    }

    let mut report = String::new();
    let _ = writeln!(report, "\n=== dedup pairs: {} labelled pairs {:?} ===", pairs.len(), counts);
    let _ = writeln!(report, "{}", dup.line("duplicate detection  "));
    let _ = writeln!(report, "{}", same.line("same-story detection "));
    let _ = writeln!(report, "exact relation by category (correct / total):");
    for ((label, category), (ok, total)) in &by_category {
        let _ = writeln!(report, "  {label:<10} {category:<14} {ok:>3} / {total:<3}");
    }
    let _ = writeln!(
        report,
        "misclassified pairs (expected duplicate→Duplicate, same_event→Related, different→Unrelated):"
    );
    report.push_str(if misses.is_empty() { "  none\n" } else { &misses });
    println!("{report}");

    assert!(pairs.len() >= 240, "at least 240 pairs");
    assert!(dup.precision() >= 0.98, "duplicate precision {:.3} < 0.98", dup.precision());
    assert!(dup.recall() >= 0.95, "duplicate recall {:.3} < 0.95", dup.recall());
}

// ---------------------------------------------------------------------------------------------
// Clusters
// ---------------------------------------------------------------------------------------------

/// Stories in known events: each event's original article, copies, URL variants, aggregator
/// listings and rewrites; events of one organisation and of one scenario close in time.
fn clustered_stories() -> Vec<Story> {
    let mut g = Gen::new();
    // A different stream from the pair set.
    g.rng = fastrand::Rng::with_seed(7 ^ 0xC1);
    let mut events: Vec<Event> = Vec::new();
    let taken = |events: &[Event], org: usize, sc: usize| events.iter().any(|e| e.org == org && e.scenario == sc);
    for anchor in 0..17 {
        let org = anchor % ORGS.len();
        let at = g.rng.i64(0..14 * DAY);
        let sc = loop {
            let sc = g.pick(&Gen::scenarios_for(org));
            if !taken(&events, org, sc) {
                break sc;
            }
        };
        let ev = g.event(Some(org), Some(sc), at);
        events.push(ev.clone());
        // Hard negative: the same organisation, another event, within 66 h.
        if g.chance(75) {
            let others: Vec<usize> = Gen::scenarios_for(org).into_iter().filter(|&s| !taken(&events, org, s)).collect();
            let sc2 = g.pick(&others);
            let at2 = at + g.rng.i64(6 * HOUR..66 * HOUR);
            let mut e2 = g.event(Some(org), Some(sc2), at2);
            if g.chance(60) && may_share_product(sc, sc2) {
                e2.product = ev.product;
            }
            events.push(e2);
        }
        // Hard negative: the same scenario at another organisation, within 48 h.
        if g.chance(60) {
            let others: Vec<usize> =
                Gen::orgs_for(sc).into_iter().filter(|&o| o != org && !taken(&events, o, sc)).collect();
            if !others.is_empty() {
                let org2 = g.pick(&others);
                let at2 = at + g.rng.i64(0..48 * HOUR);
                events.push(g.event(Some(org2), Some(sc), at2));
            }
        }
    }

    let mut stories = Vec::new();
    for ev in &events {
        let at = ev.at + g.rng.i64(0..2 * HOUR);
        let original = g.random_article(ev, at);
        let mut coverage = vec![original.clone()];
        for _ in 0..g.rng.usize(0..=2) {
            let at = original.at + g.rng.i64(10..30 * HOUR);
            coverage.push(g.syndicate(&original, at));
        }
        if g.chance(50) {
            let at = original.at + g.rng.i64(0..24 * HOUR);
            coverage.push(g.url_variant(&original, ev, at));
        }
        if g.chance(50) {
            let at = original.at + g.rng.i64(0..36 * HOUR);
            coverage.push(g.reformat(&original, at));
        }
        let mut rewrites: Vec<Story> = vec![original.clone()];
        for _ in 0..g.rng.usize(1..=2) {
            let at = ev.at + g.rng.i64(0..48 * HOUR);
            let avoid: Vec<&Story> = rewrites.iter().collect();
            let r = g.fresh_article(ev, &avoid, at);
            rewrites.push(r.clone());
            coverage.push(r);
        }
        stories.extend(coverage);
    }
    for _ in 0..4 {
        let at = g.rng.i64(0..14 * DAY);
        stories.push(g.off_topic(at));
    }
    stories
}

/// Connected components, built the way a pipeline sees stories: each arriving story is
/// compared with every story before it. Returns sets of story indices.
fn cluster(signer: &Signer, stories: &[Story], order: &[usize]) -> BTreeSet<BTreeSet<usize>> {
    let sigs: Vec<Signature> = stories.iter().map(|s| sign(signer, s)).collect();
    let mut parent: Vec<usize> = (0..stories.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (k, &i) in order.iter().enumerate() {
        for &j in &order[..k] {
            if relation(&sigs[i], &sigs[j], &signer.settings) != Relation::Unrelated {
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                parent[ri] = rj;
            }
        }
    }
    let mut groups: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for i in 0..stories.len() {
        groups.entry(root(&mut parent, i)).or_default().insert(i);
    }
    groups.into_values().collect()
}

#[test]
fn clusters_are_pure_and_independent_of_arrival_order() {
    let stories = clustered_stories();
    let signer = signer();
    let order: Vec<usize> = (0..stories.len()).collect();
    let clusters = cluster(&signer, &stories, &order);
    let sigs: Vec<Signature> = stories.iter().map(|s| sign(&signer, s)).collect();

    let truth = |i: usize| stories[i].event;
    let true_events: BTreeSet<usize> = (0..stories.len()).map(truth).collect();

    let mut majority_sum = 0;
    let mut report = String::new();
    let mut mixed = String::new();
    for c in &clusters {
        let mut by_event: BTreeMap<usize, usize> = BTreeMap::new();
        for &i in c {
            *by_event.entry(truth(i)).or_default() += 1;
        }
        majority_sum += by_event.values().max().unwrap();
        if by_event.len() > 1 {
            let _ = writeln!(mixed, "  cluster of {} stories from {} events:", c.len(), by_event.len());
            for &i in c {
                let _ = writeln!(mixed, "    [event {}] {:?}", truth(i), stories[i].title);
            }
            // The edges that join different events.
            for &i in c {
                for &j in c.range(i + 1..) {
                    let r = relation(&sigs[i], &sigs[j], &signer.settings);
                    if truth(i) != truth(j) && r != Relation::Unrelated {
                        let _ = writeln!(
                            mixed,
                            "    bridge {r:?}, {:.1} h apart: {:?} <-> {:?}",
                            hours_apart(&stories[i], &stories[j]),
                            stories[i].title,
                            stories[j].title
                        );
                    }
                }
            }
        }
    }
    let purity = majority_sum as f64 / stories.len() as f64;

    // Inverse purity: how much of each true event ends up in one cluster (splitting, informative).
    let mut inverse_sum = 0;
    for ev in &true_events {
        let best = clusters.iter().map(|c| c.iter().filter(|&&i| truth(i) == *ev).count()).max().unwrap();
        inverse_sum += best;
    }
    let inverse_purity = inverse_sum as f64 / stories.len() as f64;

    let mut shuffled = order.clone();
    fastrand::Rng::with_seed(7).shuffle(&mut shuffled);
    let reshuffled = cluster(&signer, &stories, &shuffled);
    let mut reversed = order.clone();
    reversed.reverse();
    let backwards = cluster(&signer, &stories, &reversed);
    let order_independent = clusters == reshuffled && clusters == backwards;

    let _ = writeln!(report, "\n=== dedup clusters: {} stories ===", stories.len());
    let _ = writeln!(report, "clusters {} vs true events {}", clusters.len(), true_events.len());
    let _ = writeln!(report, "purity {purity:.3}  inverse purity (events kept whole) {inverse_purity:.3}");
    let _ = writeln!(report, "order independent (seeded shuffle and reverse): {order_independent}");
    let _ = writeln!(report, "clusters mixing events:");
    report.push_str(if mixed.is_empty() { "  none\n" } else { &mixed });
    println!("{report}");

    assert!((140..=170).contains(&stories.len()), "about 150 stories, got {}", stories.len());
    assert!(purity >= 0.95, "cluster purity {purity:.3} < 0.95");
    assert!(order_independent, "the partition depends on arrival order");
}
