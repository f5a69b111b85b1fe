//! `retail_examples`: writes the small example data set in `examples/retail/` that exercises
//! every dialogue in `dialogues/`.
//!
//! ```sh
//! cargo run --release -p kairos-datagen --bin retail_examples -- --out examples/retail
//! ```
//!
//! A fictional retailer with department stores, an online grocery service (web and app), a coffee
//! bar and a travel desk, from 2024-01-01 to 2025-12-31. Two kinds of customers:
//!
//! * **Background customers**: a seeded random population (web grocery shoppers, department
//!   store shoppers, app regulars, occasional buyers) with churn, lapses, life changes, address
//!   changes, complaints, opt-outs, store visits and two trunk-show invitation lists with RSVPs.
//! * **Story customers**: hand-written timelines at fixed ids, one per branch of the seed stories
//!   (airline win-back, trunk show RSVP, the grocer's first four web orders, complaint recovery,
//!   ...). Their responses are placed just after the messages they answer; the times follow from
//!   the dialogue definitions (delays, waits, escalation ladders), which the timelines mirror.
//!
//! Deterministic: the same seed gives byte-identical files (the crate's own RNG, integer cents,
//! no hash-map iteration, no libm transcendental functions).

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use kairos_datagen::model::ZONES;
use kairos_datagen::out::{civil_from_days, days_from_civil};
use kairos_datagen::rng::{det_exp, Rng};

/// Write the example retail data set (transactions, customers, events) used with `dialogues/`.
#[derive(Parser, Debug)]
struct Args {
    /// Output directory (created if missing).
    #[arg(long, default_value = "examples/retail")]
    out: PathBuf,
    /// Random seed of the background population (story customers do not depend on it).
    #[arg(long, default_value_t = 2005)]
    seed: u64,
    /// Print the story customers and what they show, as a Markdown table.
    #[arg(long)]
    stories: bool,
}

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
const MIN: i64 = 60;

/// Customers in the data set (story and background).
const CUSTOMERS: usize = 420;

fn ymd(y: i64, m: u32, d: u32) -> i64 {
    days_from_civil(y, m, d) * DAY
}

/// `y-m-d hh:mm` UTC in seconds since the epoch.
fn at(y: i64, m: u32, d: u32, h: i64, mi: i64) -> i64 {
    ymd(y, m, d) + h * HOUR + mi * MIN
}

fn start() -> i64 {
    ymd(2024, 1, 1)
}

fn end() -> i64 {
    ymd(2026, 1, 1)
}

fn fmt_ts(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    let s = t.rem_euclid(DAY);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

fn fmt_cents(c: u64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Catalog

struct Product {
    name: &'static str,
    category: &'static str,
    cents: u64,
}

const fn p(name: &'static str, category: &'static str, cents: u64) -> Product {
    Product { name, category, cents }
}

const PRODUCTS: &[Product] = &[
    p("whole_milk_2l", "groceries", 249),
    p("sourdough_loaf", "groceries", 399),
    p("free_range_eggs_12", "groceries", 449),
    p("bananas_1kg", "groceries", 179),
    p("chicken_breast_1kg", "groceries", 1099),
    p("cheddar_400g", "groceries", 549),
    p("pasta_500g", "groceries", 189),
    p("tomato_passata", "groceries", 229),
    p("greek_yogurt_1kg", "groceries", 449),
    p("olive_oil_1l", "groceries", 1199),
    p("basmati_rice_2kg", "groceries", 499),
    p("salad_mix", "groceries", 329),
    p("apples_1kg", "groceries", 349),
    p("orange_juice_1l", "groceries", 379),
    p("salmon_fillets_400g", "groceries", 1299),
    p("tortilla_chips", "snacks", 299),
    p("dark_chocolate_bar", "snacks", 249),
    p("mixed_nuts_500g", "snacks", 899),
    p("granola_bars_6", "snacks", 449),
    p("popcorn_kernels", "snacks", 259),
    p("house_espresso_beans_1kg", "coffee", 2499),
    p("colombian_ground_250g", "coffee", 799),
    p("decaf_beans_500g", "coffee", 1299),
    p("cold_brew_concentrate", "coffee", 899),
    p("espresso_pods_30", "coffee", 1199),
    p("rioja_reserva", "wine", 1899),
    p("sauvignon_blanc", "wine", 1299),
    p("prosecco", "wine", 1499),
    p("pinot_noir", "wine", 2299),
    p("newborn_nappies_72", "baby", 2499),
    p("infant_formula_800g", "baby", 2899),
    p("baby_wipes_6pack", "baby", 1199),
    p("baby_bottle_set", "baby", 3499),
    p("baby_monitor", "baby", 8999),
    p("stroller_travel_system", "baby", 34999),
    p("cordless_drill", "home_improvement", 12999),
    p("wall_paint_5l", "home_improvement", 4499),
    p("tile_adhesive", "home_improvement", 1899),
    p("toolbox_set", "home_improvement", 7999),
    p("led_bulbs_6", "home_improvement", 2199),
    p("wallpaper_roll", "home_improvement", 2999),
    p("garden_hose_30m", "garden", 3999),
    p("potting_compost_50l", "garden", 1299),
    p("pruning_shears", "garden", 1999),
    p("patio_heater", "garden", 19999),
    p("sofa_three_seat", "furniture", 89999),
    p("oak_dining_table", "furniture", 64999),
    p("bookcase", "furniture", 17999),
    p("office_chair", "furniture", 24999),
    p("bed_frame_king", "furniture", 54999),
    p("chef_knife", "kitchen", 7999),
    p("nonstick_pan_28cm", "kitchen", 4999),
    p("stand_mixer", "kitchen", 39999),
    p("espresso_machine", "kitchen", 49999),
    p("dinner_plates_6", "kitchen", 3999),
    p("wireless_earbuds", "electronics", 12999),
    p("smart_speaker", "electronics", 7999),
    p("laptop_14in", "electronics", 99999),
    p("tv_55in", "electronics", 69999),
    p("phone_charger", "electronics", 1999),
    p("cashmere_sweater", "apparel", 14999),
    p("silk_blouse", "apparel", 8999),
    p("wool_coat", "apparel", 29999),
    p("denim_jeans", "apparel", 6999),
    p("cotton_tshirt", "apparel", 1999),
    p("evening_dress", "apparel", 24999),
    p("leather_boots", "shoes", 18999),
    p("running_shoes", "shoes", 11999),
    p("ballet_flats", "shoes", 7999),
    p("pearl_earrings", "jewelry", 19999),
    p("gold_necklace", "jewelry", 49999),
    p("silver_bracelet", "jewelry", 8999),
    p("face_serum", "beauty", 4999),
    p("lipstick", "beauty", 2499),
    p("shampoo_500ml", "beauty", 899),
    p("perfume_50ml", "beauty", 8999),
    p("building_blocks_set", "toys", 4999),
    p("plush_bear", "toys", 1999),
    p("board_game", "toys", 3499),
    p("cookbook", "books", 2999),
    p("novel_paperback", "books", 1299),
    p("city_guide", "books", 2199),
    p("dog_food_12kg", "pet", 5499),
    p("cat_litter_10l", "pet", 1299),
    p("cat_food_24", "pet", 2199),
    p("vitamins_90", "health", 1599),
    p("pain_relief_24", "health", 599),
    p("sunscreen_spf50", "health", 1499),
    p("flight_domestic_return", "travel", 42000),
    p("flight_europe_return", "travel", 89000),
    p("city_break_package", "travel", 65000),
    p("travel_insurance_annual", "travel", 12900),
];

fn product(name: &str) -> usize {
    PRODUCTS.iter().position(|p| p.name == name).unwrap_or_else(|| panic!("unknown product {name}"))
}

/// Categories bought in multiples.
fn bulk(category: &str) -> bool {
    matches!(category, "groceries" | "snacks" | "coffee" | "wine" | "pet" | "baby" | "health")
}

// ---------------------------------------------------------------------------------------------
// The world being built

struct Customer {
    name: String,
    email: String,
    phone: String,
    address: String,
    zone: usize,
    /// Fixed for story customers; computed from spend for the others.
    tier: Option<&'static str>,
    story: Option<&'static str>,
}

struct Line {
    product: usize,
    qty: u32,
    cents: u64,
}

struct Order {
    customer: usize,
    t: i64,
    channel: &'static str,
    lines: Vec<Line>,
}

struct Event {
    customer: usize,
    t: i64,
    kind: &'static str,
    channel: &'static str,
    dialogue: &'static str,
    step: &'static str,
    answer: &'static str,
    detail: String,
}

struct World {
    seed: u64,
    customers: Vec<Customer>,
    orders: Vec<Order>,
    events: Vec<Event>,
    /// (customer index, story id, what it shows)
    stories: Vec<(usize, &'static str, &'static str)>,
}

const FIRST_NAMES: [&str; 48] = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas", "Mia", "Mateo",
    "Amelia", "Benjamin", "Harper", "Henry", "Evelyn", "Daniel", "Abigail", "Samuel", "Emily", "David", "Ella",
    "Joseph", "Grace", "Owen", "Chloe", "Wyatt", "Nora", "Jack", "Zoe", "Leo", "Hannah", "Julian", "Layla", "Ezra",
    "Aria", "Aaron", "Maya", "Thomas", "Ruth", "Rafael", "Priya", "Kenji", "Fatima", "Omar", "Ingrid", "Sean",
];

const LAST_NAMES: [&str; 48] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Okafor",
];

const STREETS: [&str; 24] = [
    "Maple",
    "Oak",
    "Cedar",
    "Pine",
    "Elm",
    "Willow",
    "Lake",
    "Hill",
    "Park",
    "Washington",
    "Lincoln",
    "Jefferson",
    "Madison",
    "Highland",
    "Sunset",
    "River",
    "Church",
    "Mill",
    "Spring",
    "Meadow",
    "Forest",
    "Ridge",
    "Union",
    "Prospect",
];

const SUFFIXES: [&str; 8] = ["St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Way"];

const COMPLAINTS: [&str; 10] = [
    "late delivery",
    "damaged item",
    "wrong size sent",
    "refund not received",
    "missing item in grocery order",
    "substituted items without asking",
    "charged twice",
    "unhelpful staff",
    "website checkout error",
    "product not as described",
];

const STORES: [&str; 4] = ["store_downtown", "store_mall", "store_riverside", "store_airport"];

fn address(rng: &mut Rng, zone: usize) -> String {
    let cities = ZONES[zone].cities;
    let (city, region, postal) = cities[rng.below(cities.len() as u64) as usize];
    let number = 1 + rng.below(4_899);
    let street = STREETS[rng.below(STREETS.len() as u64) as usize];
    let suffix = SUFFIXES[rng.below(SUFFIXES.len() as u64) as usize];
    let unit = if rng.chance(0.2) { format!(", Apt {}", 1 + rng.below(30)) } else { String::new() };
    let code = match region {
        "UK" => format!(
            "{postal} {}{}{}",
            1 + rng.below(9),
            (b'A' + rng.below(26) as u8) as char,
            (b'A' + rng.below(26) as u8) as char
        ),
        _ => format!("{postal}{:02}", rng.below(100)),
    };
    format!("{number} {street} {suffix}{unit}, {city}, {region} {code}")
}

/// RNG streams of this generator.
mod stream {
    pub const PERSON: u8 = 40;
    pub const ORDERS: u8 = 41;
    pub const EVENTS: u8 = 42;
    pub const TRUNK: u8 = 43;
    pub const STORY: u8 = 44;
    pub const ANSWERS: u8 = 45;
}

impl World {
    fn new(seed: u64) -> Self {
        let customers = (0..CUSTOMERS)
            .map(|i| {
                let mut rng = Rng::new(seed, stream::PERSON, i as u64);
                let zone_weights: Vec<u32> = ZONES.iter().map(|z| z.weight).collect();
                let zone = rng.pick(&zone_weights);
                let first = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
                let last = LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize];
                let email = format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase(), i + 1);
                let phone = if ZONES[zone].offset >= 0 {
                    format!("+44 20 7946 {:04}", i + 1)
                } else {
                    format!("+1 555 01{:02} {:03}", i % 100, i + 1)
                };
                let address = address(&mut rng, zone);
                Customer { name: format!("{first} {last}"), email, phone, address, zone, tier: None, story: None }
            })
            .collect();
        Self { seed, customers, orders: Vec::new(), events: Vec::new(), stories: Vec::new() }
    }

    fn id(i: usize) -> String {
        format!("C{:04}", i + 1)
    }

    /// An order of `(product, quantity)` lines at list price.
    fn buy(&mut self, c: usize, t: i64, channel: &'static str, lines: &[(&str, u32)]) {
        let lines = lines
            .iter()
            .map(|&(name, qty)| {
                let product = product(name);
                Line { product, qty, cents: PRODUCTS[product].cents * u64::from(qty) }
            })
            .collect();
        self.orders.push(Order { customer: c, t, channel, lines });
    }

    fn event(&mut self, c: usize, t: i64, kind: &'static str, channel: &'static str, detail: &str) {
        self.events.push(Event {
            customer: c,
            t,
            kind,
            channel,
            dialogue: "",
            step: "",
            answer: "",
            detail: detail.to_owned(),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn respond(
        &mut self,
        c: usize,
        t: i64,
        channel: &'static str,
        dialogue: &'static str,
        step: &'static str,
        answer: &'static str,
    ) {
        self.events.push(Event {
            customer: c,
            t,
            kind: "response",
            channel,
            dialogue,
            step,
            answer,
            detail: String::new(),
        });
    }

    /// Local hour-of-day (in the customer's zone) as UTC seconds on the day of `day_t`.
    fn local(&self, c: usize, day_t: i64, hour: i64, minute: i64) -> i64 {
        let day = day_t.div_euclid(DAY) * DAY;
        day + hour * HOUR + minute * MIN - ZONES[self.customers[c].zone].offset
    }
}

// ---------------------------------------------------------------------------------------------
// Background population

#[derive(Clone, Copy)]
struct Segment {
    name: &'static str,
    share: u32,
    /// (web, store, app) weights of the preferred channel.
    channel: [u32; 3],
    categories: &'static [(&'static str, u32)],
    /// Lines per order: weights for 1, 2, 3, ...
    lines: &'static [u32],
    /// Range of the personal mean gap between orders, in days.
    gap: (f64, f64),
}

const SEGMENTS: [Segment; 4] = [
    Segment {
        name: "web_grocer",
        share: 27,
        channel: [85, 5, 10],
        categories: &[
            ("groceries", 60),
            ("snacks", 12),
            ("coffee", 8),
            ("wine", 6),
            ("pet", 5),
            ("health", 4),
            ("beauty", 3),
            ("kitchen", 1),
            ("home_improvement", 1),
        ],
        lines: &[25, 35, 25, 10, 5],
        gap: (14.0, 35.0),
    },
    Segment {
        name: "department_store",
        share: 33,
        channel: [12, 80, 8],
        categories: &[
            ("apparel", 18),
            ("shoes", 8),
            ("beauty", 12),
            ("kitchen", 7),
            ("electronics", 6),
            ("books", 8),
            ("toys", 7),
            ("jewelry", 3),
            ("furniture", 2),
            ("home_improvement", 4),
            ("garden", 4),
            ("groceries", 10),
            ("coffee", 6),
            ("wine", 5),
        ],
        lines: &[50, 35, 15],
        gap: (25.0, 65.0),
    },
    Segment {
        name: "app_regular",
        share: 15,
        channel: [15, 10, 75],
        categories: &[
            ("coffee", 28),
            ("snacks", 20),
            ("beauty", 12),
            ("books", 10),
            ("health", 10),
            ("groceries", 15),
            ("apparel", 5),
        ],
        lines: &[65, 35],
        gap: (12.0, 32.0),
    },
    Segment {
        name: "occasional",
        share: 25,
        channel: [40, 50, 10],
        categories: &[
            ("groceries", 12),
            ("apparel", 10),
            ("electronics", 8),
            ("furniture", 5),
            ("kitchen", 7),
            ("garden", 6),
            ("home_improvement", 5),
            ("toys", 6),
            ("books", 6),
            ("beauty", 6),
            ("shoes", 5),
            ("jewelry", 3),
            ("travel", 3),
            ("wine", 5),
            ("coffee", 5),
        ],
        lines: &[55, 30, 15],
        gap: (45.0, 110.0),
    },
];

const CHANNELS: [&str; 3] = ["web", "store", "app"];

/// Local shopping hours per channel (web, store, app): weights for 0..24 h.
const HOURS: [[u32; 24]; 3] = [
    [1, 0, 0, 0, 0, 0, 1, 3, 4, 5, 5, 6, 7, 6, 6, 6, 6, 7, 8, 9, 10, 9, 6, 3],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 6, 8, 10, 9, 8, 8, 9, 10, 9, 6, 3, 0, 0, 0],
    [1, 0, 0, 0, 0, 0, 2, 5, 7, 5, 4, 5, 7, 6, 5, 5, 6, 8, 8, 9, 10, 10, 7, 3],
];

fn pick_category(rng: &mut Rng, cats: &[(&'static str, u32)]) -> &'static str {
    let w: Vec<u32> = cats.iter().map(|c| c.1).collect();
    cats[rng.pick(&w)].0
}

fn pick_product(rng: &mut Rng, category: &str) -> usize {
    let idx: Vec<usize> = (0..PRODUCTS.len()).filter(|&i| PRODUCTS[i].category == category).collect();
    // Earlier products in a category are the popular ones.
    let w: Vec<u32> = (0..idx.len()).map(|k| 12 / (k as u32 + 1) + 1).collect();
    idx[rng.pick(&w)]
}

impl World {
    fn background(&mut self, c: usize) {
        let mut rng = Rng::new(self.seed, stream::ORDERS, c as u64);
        let seg = SEGMENTS[rng.pick(&SEGMENTS.map(|s| s.share))];
        let period = (end() - start()) / DAY;
        let acquired = if rng.chance(0.35) { rng.below(45) as i64 } else { rng.below(700) as i64 };
        let churn = rng.chance(0.35);
        let last_day =
            if churn { acquired + ((period - acquired) as f64 * rng.range(0.15, 0.8)) as i64 } else { period };
        let lapse = rng.chance(0.12).then(|| {
            let from = acquired + rng.below((last_day - acquired).max(1) as u64) as i64;
            (from, from + 95 + rng.below(130) as i64)
        });
        let mean_gap = rng.range(seg.gap.0, seg.gap.1);
        let preferred = rng.pick(&seg.channel);
        let fav = [pick_category(&mut rng, seg.categories), pick_category(&mut rng, seg.categories)];
        // Life changes: a baby on the way, or a renovation.
        let life = if rng.chance(0.05) {
            Some(("baby", rng.range(0.2, 0.7)))
        } else if rng.chance(0.04) {
            Some(("home_improvement", rng.range(0.2, 0.7)))
        } else {
            None
        };
        let value = det_exp(0.3 * rng.normal()).clamp(0.6, 1.8);
        let mut day = acquired;
        let mut first = true;
        while day < last_day {
            if let Some((from, to)) = lapse {
                if day >= from && day < to {
                    day = to;
                    continue;
                }
            }
            let ch = if first && seg.name == "web_grocer" {
                0
            } else if rng.chance(0.8) {
                preferred
            } else {
                rng.pick(&[40, 40, 20])
            };
            first = false;
            let hour = rng.pick(&HOURS[ch]) as i64;
            let t = self.local(c, start() + day * DAY, hour, rng.below(60) as i64) + rng.below(60) as i64;
            if t < start() || t >= end() {
                day += 1;
                continue;
            }
            let n = 1 + rng.pick(seg.lines);
            let frac = (day - acquired) as f64 / (last_day - acquired).max(1) as f64;
            let mut lines: Vec<Line> = Vec::new();
            for _ in 0..n {
                let cat = match life {
                    Some((lc, onset)) if frac >= onset && rng.chance(0.35) => lc,
                    _ if rng.chance(0.4) => fav[rng.below(2) as usize],
                    _ => pick_category(&mut rng, seg.categories),
                };
                // The travel desk and big furniture are rare, even for occasional buyers.
                let prod = pick_product(&mut rng, cat);
                if lines.iter().any(|l| l.product == prod) {
                    continue;
                }
                let qty = if bulk(cat) { 1 + rng.pick(&[60, 25, 10, 5]) as u32 } else { 1 };
                let mut cents = (PRODUCTS[prod].cents as f64 * value).round() as u64;
                // Premium variants cost more, store brands less: round to a .49/.99 price.
                cents = ((cents as f64 / 50.0).round().max(1.0) as u64) * 50 - 1;
                if rng.chance(0.12) {
                    cents = cents * (75 + rng.below(16)) / 100;
                }
                lines.push(Line { product: prod, qty, cents: cents * u64::from(qty) });
            }
            self.orders.push(Order { customer: c, t, channel: CHANNELS[ch], lines });
            let gap = mean_gap * det_exp(0.45 * rng.normal());
            day += (gap.round() as i64).max(1);
        }
        self.background_events(c, acquired, last_day);
    }

    fn background_events(&mut self, c: usize, acquired: i64, last_day: i64) {
        let mut rng = Rng::new(self.seed, stream::EVENTS, c as u64);
        let lo = start() + acquired * DAY;
        let hi = (start() + last_day * DAY + 30 * DAY).min(end() - DAY);
        if hi <= lo + DAY {
            return;
        }
        let when = |rng: &mut Rng| lo + DAY + rng.below((hi - lo - DAY) as u64) as i64;
        if rng.chance(0.08) {
            let t = when(&mut rng);
            let channel = ["web", "app", "store"][rng.pick(&[50, 30, 20])];
            let zone = self.customers[c].zone;
            let detail = address(&mut rng, zone);
            self.event(c, t, "address_change", channel, &detail);
        }
        if rng.chance(0.07) {
            // A complaint follows an order by a day or three.
            let mine: Vec<i64> = self.orders.iter().filter(|o| o.customer == c).map(|o| o.t).collect();
            if !mine.is_empty() {
                let base = mine[rng.below(mine.len() as u64) as usize];
                let t = base + DAY + rng.below((2 * DAY) as u64) as i64;
                if t < end() {
                    let channel = ["phone", "email", "web", "store"][rng.pick(&[35, 35, 20, 10])];
                    let detail = COMPLAINTS[rng.below(COMPLAINTS.len() as u64) as usize];
                    self.event(c, t, "complaint", channel, detail);
                }
            }
        }
        if rng.chance(0.03) {
            let t = when(&mut rng);
            let channel = ["email", "sms", "phone", ""][rng.pick(&[40, 30, 10, 20])];
            self.event(c, t, "opt_out", channel, "");
        }
        if rng.chance(0.06) {
            let t = when(&mut rng);
            let store = STORES[rng.below(STORES.len() as u64) as usize];
            self.event(c, t, "visit", "store", store);
        }
        // Some renovators come to a DIY workshop a couple of weeks after their first purchase.
        let first_hi = self
            .orders
            .iter()
            .filter(|o| o.customer == c && o.lines.iter().any(|l| PRODUCTS[l.product].category == "home_improvement"))
            .map(|o| o.t)
            .min();
        if let Some(t) = first_hi {
            if rng.chance(0.25) {
                let v = t + (5 + rng.below(20) as i64) * DAY + 3 * HOUR;
                if v < end() {
                    self.event(c, v, "visit", "store", "diy_workshop");
                }
            }
        }
    }

    /// Background tiers from spend: the top 10% gold, the next 25% silver.
    fn assign_tiers(&mut self) {
        let mut spend: Vec<(u64, usize)> = (0..CUSTOMERS)
            .filter(|&c| self.customers[c].tier.is_none())
            .map(|c| {
                let s = self.orders.iter().filter(|o| o.customer == c).flat_map(|o| &o.lines).map(|l| l.cents).sum();
                (s, c)
            })
            .collect();
        spend.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let n = spend.len();
        for (rank, &(_, c)) in spend.iter().enumerate() {
            self.customers[c].tier = Some(if rank < n / 10 {
                "gold"
            } else if rank < n * 35 / 100 {
                "silver"
            } else {
                "bronze"
            });
        }
    }

    /// Two trunk shows; the invitation list is loaded two weeks before each. Gold and silver
    /// customers who buy fashion are invited, except those with a recent complaint or an opt-out.
    fn trunk_show_invitations(&mut self) {
        let shows = [at(2024, 9, 16, 14, 0), at(2025, 3, 17, 14, 0)];
        for (k, &invite) in shows.iter().enumerate() {
            let mut invited = 0;
            for c in 0..CUSTOMERS {
                if self.customers[c].story.is_some() || invited >= 26 {
                    continue;
                }
                if !matches!(self.customers[c].tier, Some("gold" | "silver")) {
                    continue;
                }
                let fashion = self.orders.iter().any(|o| {
                    o.customer == c
                        && o.t < invite
                        && o.t > invite - 365 * DAY
                        && o.lines
                            .iter()
                            .any(|l| matches!(PRODUCTS[l.product].category, "apparel" | "shoes" | "jewelry" | "beauty"))
                });
                let trouble = self.events.iter().any(|e| {
                    e.customer == c
                        && ((e.kind == "complaint" && e.t > invite - 60 * DAY && e.t < invite + 25 * DAY)
                            || (e.kind == "opt_out" && e.t < invite + 25 * DAY))
                });
                if !fashion || trouble {
                    continue;
                }
                invited += 1;
                let mut rng = Rng::new(self.seed, stream::TRUNK, (k * CUSTOMERS + c) as u64);
                self.event(
                    c,
                    invite,
                    "trunk_show_invite",
                    "postcard",
                    if k == 0 { "autumn_2024" } else { "spring_2025" },
                );
                let show_day = invite + 14 * DAY;
                let jitter = |rng: &mut Rng, lo: f64, hi: f64| (rng.range(lo, hi) * DAY as f64) as i64;
                let r = rng.f64();
                // Channels answers come back through: the RSVP card, the web page, a call.
                let via = ["postcard", "web", "email"][rng.pick(&[40, 40, 20])];
                let yes_at = if r < 0.38 {
                    Some(invite + jitter(&mut rng, 1.5, 4.5))
                } else if r < 0.52 {
                    let t = invite + jitter(&mut rng, 1.0, 4.5);
                    self.respond(c, t, via, "trunk_show_rsvp", "invite", "no");
                    None
                } else if r < 0.62 {
                    // After the email reminder (day 5), before the SMS (day 9).
                    Some(invite + jitter(&mut rng, 5.5, 8.5))
                } else {
                    if rng.chance(0.15) {
                        self.event(c, show_day + 2 * HOUR, "visit", "store", "trunk_show");
                    }
                    None
                };
                if let Some(y) = yes_at {
                    self.respond(c, y, via, "trunk_show_rsvp", "invite", "yes");
                    let s = rng.f64();
                    if s < 0.5 {
                        self.respond(c, y + jitter(&mut rng, 0.3, 3.0), "email", "trunk_show_rsvp", "sizes", "yes");
                    } else if s < 0.75 {
                        self.respond(c, y + jitter(&mut rng, 0.3, 3.0), "email", "trunk_show_rsvp", "sizes", "no");
                    }
                    if rng.chance(0.7) {
                        self.event(c, show_day + (1 + rng.below(5) as i64) * HOUR, "visit", "store", "trunk_show");
                    }
                }
            }
        }
    }
}

impl World {
    /// Answers of background customers to the questions they are asked: the complaint call,
    /// the coffee subscription offer and the new parents' subscription offer. Each is placed
    /// after the message it answers, following the dialogue definitions; a customer is only
    /// asked when nothing in their history (a complaint, a purchase that ends the dialogue
    /// first) would keep the question from being open.
    fn background_responses(&mut self) {
        for c in 0..CUSTOMERS {
            if self.customers[c].story.is_some() {
                continue;
            }
            let mut rng = Rng::new(self.seed, stream::ANSWERS, c as u64);
            let order_times: Vec<i64> = self.orders.iter().filter(|o| o.customer == c).map(|o| o.t).collect();
            let complaints: Vec<(i64, String)> = self
                .events
                .iter()
                .filter(|e| e.customer == c && e.kind == "complaint")
                .map(|e| (e.t, e.channel.to_owned()))
                .collect();
            let quiet = |t: i64| complaints.iter().any(|&(k, _)| k <= t && k > t - 45 * DAY);
            let bought_between = |a: i64, b: i64| order_times.iter().any(|&t| t >= a && t <= b);
            // complaint_recovery: the service call goes out two days after the complaint.
            for (t, _) in &complaints {
                let answer = t + 2 * DAY + (1 + rng.below(5) as i64) * HOUR;
                if rng.chance(0.5) && !bought_between(*t, answer) && answer < end() {
                    let a = if rng.chance(0.6) { "satisfied" } else { "unsatisfied" };
                    self.respond(c, answer, "phone", "complaint_recovery", "service_call", a);
                }
            }
            // Lines in the order kairos replays them: time, then order, then product.
            let mut lines: Vec<(i64, usize, &'static str)> = self
                .orders
                .iter()
                .enumerate()
                .filter(|(_, o)| o.customer == c)
                .flat_map(|(k, o)| o.lines.iter().map(move |l| (o.t, k, PRODUCTS[l.product].name)))
                .collect();
            lines.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(b.2)));
            let category = |name: &str| PRODUCTS[product(name)].category;
            // frequent_coffee_buyer: the first time three coffee lines fall within 60 days.
            let coffee: Vec<i64> = lines.iter().filter(|l| category(l.2) == "coffee").map(|l| l.0).collect();
            let fired = (0..coffee.len()).find(|&i| {
                let t = coffee[i];
                coffee[..=i].iter().filter(|&&x| x > t - 60 * DAY).count() == 3
            });
            if let Some(i) = fired {
                let t = coffee[i];
                let answer = t + (4 + rng.below(5 * 24) as i64) * HOUR;
                let r = rng.f64();
                if !quiet(t) && answer < end() && r < 0.45 {
                    let a = if r < 0.25 { "subscribe" } else { "no" };
                    let via = ["email", "web"][rng.below(2) as usize];
                    self.respond(c, answer, via, "frequent_coffee_buyer", "subscription_offer", a);
                }
            }
            // welcome_new_parents: the subscription offer comes 30 days after the first baby line.
            if let Some(&(t, _, _)) = lines.iter().find(|l| category(l.2) == "baby") {
                let answer = t + 30 * DAY + (12 + rng.below(8 * 24) as i64) * HOUR;
                let r = rng.f64();
                if !quiet(t) && answer < end() && r < 0.55 {
                    let a = if r < 0.35 { "yes" } else { "no" };
                    self.respond(c, answer, "email", "welcome_new_parents", "essentials_subscription", a);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Story customers

/// Where each story customer sits in the id range (C0007 is index 6).
const STORY_SLOTS: [usize; 32] = [
    6, 13, 20, 27, 34, 41, 48, 55, 62, 69, 76, 83, 90, 97, 104, 111, 118, 125, 132, 139, 146, 153, 160, 167, 174, 181,
    188, 195, 202, 209, 216, 223,
];

/// When the `absence: {usual_gap: 2.0, at_least: 30d, min_orders: 4}` timer of a customer with
/// these (distinct, sorted) order times fires after the last one: the same arithmetic as kairos.
fn usual_gap_due(orders: &[i64]) -> i64 {
    let mut gaps: Vec<i64> = orders.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let mid = gaps.len() / 2;
    let secs = if gaps.len() % 2 == 1 { gaps[mid] as f64 } else { (gaps[mid - 1] + gaps[mid]) as f64 / 2.0 };
    let median_days = secs / 86_400.0;
    let last = *orders.last().expect("orders");
    last + ((median_days * 86_400.0 * 2.0).round() as i64).max(30 * DAY)
}

impl World {
    fn story(&mut self, slot: usize, tier: &'static str, id: &'static str, shows: &'static str) -> usize {
        let c = STORY_SLOTS[slot];
        self.customers[c].tier = Some(tier);
        self.customers[c].story = Some(id);
        self.stories.push((c, id, shows));
        c
    }

    /// A flyer who books a flight every four weeks (±2 days) from `from` for `n` flights.
    /// Returns the order times.
    fn flyer(&mut self, c: usize, from: i64, n: usize) -> Vec<i64> {
        let mut rng = Rng::new(0, stream::STORY, c as u64);
        let mut t = from;
        let mut times = Vec::new();
        for k in 0..n {
            let prod = if k % 4 == 3 { "flight_europe_return" } else { "flight_domestic_return" };
            if k == 0 {
                self.buy(c, t, "web", &[(prod, 1), ("travel_insurance_annual", 1)]);
            } else {
                self.buy(c, t, "web", &[(prod, 1)]);
            }
            times.push(t);
            t += 28 * DAY + (rng.below(5) as i64 - 2) * DAY + (rng.below(120) as i64 - 60) * MIN;
        }
        times
    }

    /// Regular groceries on the web every `gap` days (±2) in `[from, to)`.
    fn grocery_run(&mut self, c: usize, from: i64, to: i64, gap: i64, channel: &'static str) {
        let mut rng = Rng::new(1, stream::STORY, c as u64);
        let mut t = from;
        let staples =
            ["whole_milk_2l", "sourdough_loaf", "free_range_eggs_12", "bananas_1kg", "apples_1kg", "pasta_500g"];
        let extras = [
            "cheddar_400g",
            "greek_yogurt_1kg",
            "salad_mix",
            "chicken_breast_1kg",
            "tortilla_chips",
            "orange_juice_1l",
        ];
        while t < to {
            let a = staples[rng.below(staples.len() as u64) as usize];
            let mut b = extras[rng.below(extras.len() as u64) as usize];
            if b == a {
                b = "basmati_rice_2kg";
            }
            self.buy(c, t, channel, &[(a, 1 + rng.below(2) as u32), (b, 1)]);
            t += (gap + rng.below(5) as i64 - 2) * DAY + (rng.below(90) as i64 - 45) * MIN;
        }
    }

    /// Fashion purchases in store every ~5 weeks in `[from, to)`.
    fn fashion_run(&mut self, c: usize, from: i64, to: i64) {
        let mut rng = Rng::new(2, stream::STORY, c as u64);
        let items = [
            "silk_blouse",
            "cashmere_sweater",
            "ballet_flats",
            "lipstick",
            "face_serum",
            "denim_jeans",
            "silver_bracelet",
        ];
        let mut t = from;
        while t < to {
            let a = items[rng.below(items.len() as u64) as usize];
            self.buy(c, t, "store", &[(a, 1)]);
            t += (30 + rng.below(14) as i64) * DAY + (rng.below(120) as i64) * MIN;
        }
    }

    fn stories(&mut self) {
        // --- Airline win-back (seed 001/002) -------------------------------------------------
        // A1: the full story. Quiet flyer, rep call, complaint, executive apology with upgrades,
        // incentive reminder a month later, senior manager's call a month after that, then he
        // books: saved, and special treatment starts.
        let c = self.story(0, "gold", "airline_saved", "airline win-back, saved after the senior manager's call (complaint, apology letter, reminder email, manager call, booking, special treatment)");
        let times = self.flyer(c, at(2024, 1, 9, 17, 40), 12);
        let call = usual_gap_due(&times);
        let complaint = call + 2 * DAY + 3 * HOUR;
        self.event(
            c,
            complaint,
            "complaint",
            "phone",
            "logged by rep: bumped from an overbooked flight, no upgrade honoured",
        );
        // letter at `complaint`, email +30d, senior manager +60d; he books nine days later.
        let back = complaint + 69 * DAY;
        self.buy(c, back, "web", &[("flight_europe_return", 1)]);
        self.flyer(c, back + 30 * DAY, 9);

        // A2: rep calls, no complaint, nothing bought: the call times out (no_contact).
        let c = self.story(1, "gold", "airline_no_contact", "airline win-back, never answered: rep call, no complaint, no booking (no_contact), later the generic we-miss-you");
        self.flyer(c, at(2024, 3, 4, 13, 5), 13);

        // A3: complains, gets the apology, reminder and manager call, never books again (lost).
        let c = self.story(
            2,
            "gold",
            "airline_lost",
            "airline win-back, complaint but never books again (lost after the whole ladder)",
        );
        let times = self.flyer(c, at(2024, 2, 12, 9, 30), 11);
        let call = usual_gap_due(&times);
        self.event(
            c,
            call + DAY + 5 * HOUR,
            "complaint",
            "phone",
            "logged by rep: lost luggage claim still open after six weeks",
        );

        // A4: the rep's call is enough: he books a week later without complaining (saved).
        let c = self.story(
            3,
            "silver",
            "airline_saved_by_call",
            "airline win-back, saved by the rep's call alone (books a week later)",
        );
        let times = self.flyer(c, at(2024, 5, 20, 11, 15), 10);
        let call = usual_gap_due(&times);
        self.buy(c, call + 7 * DAY + 2 * HOUR, "web", &[("city_break_package", 1)]);
        self.flyer(c, call + 35 * DAY, 4);

        // A5: complaint, apology letter, books after the incentive reminder email (saved).
        let c = self.story(
            4,
            "gold",
            "airline_saved_by_reminder",
            "airline win-back, complaint, then books after the incentive reminder email",
        );
        let times = self.flyer(c, at(2024, 6, 3, 8, 50), 12);
        let call = usual_gap_due(&times);
        let complaint = call + 3 * DAY;
        self.event(c, complaint, "complaint", "phone", "logged by rep: refund for cancelled flight took two months");
        self.buy(c, complaint + 33 * DAY, "web", &[("flight_domestic_return", 1)]);

        // --- Trunk show RSVP (seed 001) --------------------------------------------------------
        let show1 = at(2024, 9, 16, 14, 0);
        let show2 = at(2025, 3, 17, 14, 0);
        // T1: yes, and yes to samples in her size.
        let c = self.story(
            5,
            "gold",
            "trunk_yes_samples",
            "trunk show: yes, then yes to samples in her size (samples_reserved); at the spring show, says no",
        );
        self.fashion_run(c, at(2024, 1, 20, 16, 0), at(2025, 11, 1, 0, 0));
        self.event(c, show1, "trunk_show_invite", "postcard", "autumn_2024");
        self.respond(c, show1 + 3 * DAY + 2 * HOUR, "postcard", "trunk_show_rsvp", "invite", "yes");
        self.respond(c, show1 + 4 * DAY + 5 * HOUR, "email", "trunk_show_rsvp", "sizes", "yes");
        self.event(c, show1 + 14 * DAY + 2 * HOUR, "visit", "store", "trunk_show");
        self.event(c, show2, "trunk_show_invite", "postcard", "spring_2025");
        self.respond(c, show2 + 2 * DAY, "web", "trunk_show_rsvp", "invite", "no");

        // T2: yes, but no samples.
        let c =
            self.story(6, "silver", "trunk_yes_no_samples", "trunk show: yes, but no samples (attending_no_samples)");
        self.fashion_run(c, at(2024, 2, 2, 15, 0), at(2025, 12, 1, 0, 0));
        self.event(c, show1, "trunk_show_invite", "postcard", "autumn_2024");
        self.respond(c, show1 + 2 * DAY + 4 * HOUR, "web", "trunk_show_rsvp", "invite", "yes");
        self.respond(c, show1 + 3 * DAY + HOUR, "email", "trunk_show_rsvp", "sizes", "no");

        // T3: declines.
        let c = self.story(7, "silver", "trunk_no", "trunk show: declines the invitation (declined)");
        self.fashion_run(c, at(2024, 3, 8, 12, 0), at(2025, 12, 1, 0, 0));
        self.event(c, show1, "trunk_show_invite", "postcard", "autumn_2024");
        self.respond(c, show1 + DAY + 6 * HOUR, "postcard", "trunk_show_rsvp", "invite", "no");

        // T4: never answers: email, SMS and the stylist's call, then no_reply (both shows).
        let c = self.story(
            8,
            "gold",
            "trunk_unanswered",
            "trunk show: never answers; email, SMS and stylist call reminders, then no_reply (twice)",
        );
        self.fashion_run(c, at(2024, 1, 11, 18, 0), at(2025, 10, 1, 0, 0));
        self.event(c, show1, "trunk_show_invite", "postcard", "autumn_2024");
        self.event(c, show2, "trunk_show_invite", "postcard", "spring_2025");

        // T5: yes only after the email reminder, then ignores the sizes question (attending).
        let c = self.story(
            9,
            "silver",
            "trunk_yes_after_reminder",
            "trunk show: yes after the email reminder, sizes question unanswered (attending)",
        );
        self.fashion_run(c, at(2024, 4, 1, 13, 0), at(2025, 12, 1, 0, 0));
        self.event(c, show1, "trunk_show_invite", "postcard", "autumn_2024");
        self.respond(c, show1 + 6 * DAY + 3 * HOUR, "email", "trunk_show_rsvp", "invite", "yes");

        // T6: never answers but walks in on the day (goal: attended).
        let c = self.story(
            10,
            "gold",
            "trunk_walk_in",
            "trunk show: no answer to postcard, email, SMS or call, but comes to the show (attended)",
        );
        self.fashion_run(c, at(2024, 2, 14, 17, 0), at(2025, 12, 1, 0, 0));
        self.event(c, show2, "trunk_show_invite", "postcard", "spring_2025");
        self.event(c, show2 + 14 * DAY + HOUR, "visit", "store", "trunk_show");

        // --- Grocer: first four web orders (seed 002) ----------------------------------------
        // G1: new web customer, four quick orders (each discount redeemed), then manufacturer
        // promotions, orders again: regular.
        let c = self.story(11, "silver", "grocer_four_orders", "grocer: four web orders within the discount windows (redeemed x3), then manufacturer promotions and the coupon book (regular_web_customer)");
        self.grocery_run(c, at(2025, 2, 3, 19, 20), at(2025, 12, 20, 0, 0), 8, "web");

        // G2: the first discount expires; later orders redeem; lapses after the fourth order.
        let c = self.story(12, "bronze", "grocer_slow_start", "grocer: first discount expires (SMS reminder, expired), next ones redeemed, lapses after the fourth web order");
        let t0 = at(2024, 5, 6, 20, 5);
        self.buy(c, t0, "web", &[("whole_milk_2l", 2), ("bananas_1kg", 1), ("pasta_500g", 3)]);
        self.buy(c, t0 + 23 * DAY, "web", &[("free_range_eggs_12", 1), ("cheddar_400g", 1)]);
        self.buy(c, t0 + 31 * DAY + HOUR, "web", &[("sourdough_loaf", 1), ("salad_mix", 2), ("olive_oil_1l", 1)]);
        self.buy(c, t0 + 42 * DAY - HOUR, "web", &[("chicken_breast_1kg", 1), ("greek_yogurt_1kg", 1)]);
        // Then only the odd store visit.
        self.buy(c, t0 + 120 * DAY, "store", &[("cookbook", 1)]);
        self.buy(c, t0 + 300 * DAY, "store", &[("novel_paperback", 1)]);

        // G3: a long-time store shopper tries the web in 2025: her first web orders count.
        let c = self.story(
            13,
            "silver",
            "grocer_store_to_web",
            "grocer: store shopper since 2024 whose first web orders in 2025 start the discounts",
        );
        self.grocery_run(c, at(2024, 1, 6, 16, 0), at(2025, 5, 31, 0, 0), 14, "store");
        self.grocery_run(c, at(2025, 6, 2, 20, 0), at(2025, 12, 31, 0, 0), 10, "web");

        // O1: a web grocery customer who opted out of email: discount emails are suppressed,
        // the SMS reminders still go.
        let c = self.story(14, "bronze", "grocer_email_opt_out", "grocer: opted out of email before the first order, so the discount emails are suppressed and only SMS reminders go out");
        self.event(c, at(2025, 4, 2, 10, 0), "opt_out", "email", "unsubscribed from newsletter");
        let t0 = at(2025, 4, 7, 19, 0);
        self.buy(c, t0, "web", &[("whole_milk_2l", 1), ("apples_1kg", 2)]);
        self.buy(c, t0 + 16 * DAY, "web", &[("sourdough_loaf", 1), ("cheddar_400g", 1)]);
        self.buy(c, t0 + 37 * DAY, "web", &[("pasta_500g", 2), ("tomato_passata", 2)]);

        // --- Complaint recovery -------------------------------------------------------------
        // C1: complaint, acknowledgement, service call two days later: satisfied.
        let c = self.story(
            15,
            "silver",
            "complaint_resolved",
            "complaint recovery: the service call settles it (resolved)",
        );
        self.grocery_run(c, at(2024, 2, 1, 18, 0), at(2024, 10, 1, 0, 0), 12, "web");
        let t = at(2024, 10, 2, 15, 0);
        self.event(c, t, "complaint", "email", "half the grocery order was missing");
        self.respond(c, t + 2 * DAY + 40 * MIN, "phone", "complaint_recovery", "service_call", "satisfied");
        self.grocery_run(c, t + 6 * DAY, at(2025, 12, 1, 0, 0), 12, "web");

        // C2: unsatisfied after the call: goodwill voucher letter; buys again: recovered.
        let c = self.story(
            16,
            "silver",
            "complaint_recovered",
            "complaint recovery: unsatisfied after the call, goodwill voucher, buys again (recovered)",
        );
        self.fashion_run(c, at(2024, 1, 15, 12, 0), at(2024, 11, 1, 0, 0));
        let t = at(2024, 11, 4, 17, 30);
        self.event(c, t, "complaint", "store", "wool coat seam split after one week");
        self.respond(c, t + 2 * DAY + HOUR, "phone", "complaint_recovery", "service_call", "unsatisfied");
        self.buy(c, t + 12 * DAY, "store", &[("wool_coat", 1)]);
        self.fashion_run(c, t + 50 * DAY, at(2025, 11, 1, 0, 0));

        // C3: never picks up; voucher letter; does not come back within 30 days (unresolved).
        let c = self.story(
            17,
            "bronze",
            "complaint_unresolved",
            "complaint recovery: call unanswered, goodwill voucher, no purchase (unresolved)",
        );
        self.grocery_run(c, at(2024, 3, 3, 19, 0), at(2025, 1, 10, 0, 0), 9, "web");
        let t = at(2025, 1, 14, 9, 0);
        self.event(c, t, "complaint", "web", "charged twice");
        self.grocery_run(c, t + 75 * DAY, at(2025, 9, 1, 0, 0), 9, "web");

        // --- Coffee -------------------------------------------------------------------------
        // K1: three coffee purchases within 60 days; says subscribe.
        let c = self.story(18, "silver", "coffee_subscribes", "frequent coffee buyer: answers subscribe (subscribed)");
        let t = at(2024, 4, 2, 8, 15);
        self.buy(c, t - 90 * DAY, "store", &[("novel_paperback", 1)]);
        self.buy(c, t, "app", &[("colombian_ground_250g", 1)]);
        self.buy(c, t + 19 * DAY, "app", &[("colombian_ground_250g", 1), ("granola_bars_6", 1)]);
        let third = t + 38 * DAY;
        self.buy(c, third, "app", &[("colombian_ground_250g", 1)]);
        self.respond(c, third + DAY + 4 * HOUR, "email", "frequent_coffee_buyer", "subscription_offer", "subscribe");
        self.buy(c, third + 60 * DAY, "app", &[("dark_chocolate_bar", 2)]);

        // K2: same rhythm, says no.
        let c = self.story(19, "bronze", "coffee_declines", "frequent coffee buyer: answers no (declined)");
        let t = at(2024, 8, 5, 7, 45);
        self.buy(c, t - 40 * DAY, "store", &[("city_guide", 1)]);
        self.buy(c, t, "app", &[("espresso_pods_30", 1)]);
        self.buy(c, t + 15 * DAY, "app", &[("espresso_pods_30", 1)]);
        let third = t + 33 * DAY;
        self.buy(c, third, "app", &[("cold_brew_concentrate", 1)]);
        self.respond(c, third + 2 * DAY, "email", "frequent_coffee_buyer", "subscription_offer", "no");

        // V1: twelve bags of the house espresso within a year: VIP fan club.
        let c = self.story(
            20,
            "gold",
            "espresso_vip",
            "VIP product fan: 12 bags of house espresso within a year (fan-club letter)",
        );
        let mut t = at(2024, 2, 6, 9, 0);
        for k in 0..16 {
            let extra: &[(&str, u32)] = if k % 3 == 1 {
                &[("house_espresso_beans_1kg", 1), ("dark_chocolate_bar", 1)]
            } else {
                &[("house_espresso_beans_1kg", 1)]
            };
            self.buy(c, t, "store", extra);
            t += 24 * DAY + (k % 3) * DAY;
        }

        // --- Life changes -------------------------------------------------------------------
        // P1: first baby purchase; a month later the subscription offer: yes.
        let c = self.story(
            21,
            "silver",
            "new_parents_subscribe",
            "new parents: first baby purchase, subscription offer a month later, answers yes (subscribed)",
        );
        self.grocery_run(c, at(2024, 1, 8, 18, 30), at(2024, 7, 1, 0, 0), 11, "web");
        let t = at(2024, 7, 3, 19, 10);
        self.buy(c, t, "web", &[("newborn_nappies_72", 2), ("baby_wipes_6pack", 1), ("whole_milk_2l", 2)]);
        self.respond(c, t + 30 * DAY + 20 * HOUR, "email", "welcome_new_parents", "essentials_subscription", "yes");
        self.grocery_run(c, t + 9 * DAY, at(2025, 6, 1, 0, 0), 11, "web");

        // P2: same, answers no after the postcard.
        let c = self.story(
            22,
            "bronze",
            "new_parents_decline",
            "new parents: subscription offer, postcard reminder, answers no (declined)",
        );
        let t = at(2025, 2, 10, 12, 0);
        self.buy(c, t - 200 * DAY, "store", &[("cookbook", 1), ("dinner_plates_6", 1)]);
        self.buy(c, t - 120 * DAY, "store", &[("cotton_tshirt", 2)]);
        self.buy(c, t, "store", &[("stroller_travel_system", 1), ("baby_monitor", 1)]);
        self.respond(c, t + 39 * DAY, "postcard", "welcome_new_parents", "essentials_subscription", "no");

        // H1: first home-improvement purchase; comes to the DIY workshop.
        let c = self.story(
            23,
            "bronze",
            "renovation_workshop",
            "home renovation: first DIY purchase, project planner, comes to the workshop (came_to_workshop)",
        );
        let t = at(2025, 4, 12, 10, 30);
        self.buy(c, t - 150 * DAY, "store", &[("board_game", 1)]);
        self.buy(c, t - 60 * DAY, "web", &[("smart_speaker", 1)]);
        self.buy(c, t, "store", &[("cordless_drill", 1), ("wall_paint_5l", 2)]);
        self.event(c, t + 13 * DAY, "visit", "store", "diy_workshop");
        self.buy(c, t + 13 * DAY + HOUR, "store", &[("tile_adhesive", 3), ("toolbox_set", 1)]);

        // M1: moves house and furnishes the new home (goal).
        let c = self.story(
            24,
            "silver",
            "moving_furnished",
            "moving house: address change, buys a sofa nine days later (furnished_new_home)",
        );
        self.fashion_run(c, at(2024, 1, 25, 14, 0), at(2024, 8, 1, 0, 0));
        let t = at(2024, 8, 19, 11, 0);
        let new_home = "77 Willow Ct, Apt 4, Portland, OR 97201";
        self.event(c, t, "address_change", "web", new_home);
        self.buy(c, t + 9 * DAY, "store", &[("sofa_three_seat", 1), ("bookcase", 1)]);
        self.fashion_run(c, t + 40 * DAY, at(2025, 9, 1, 0, 0));

        // M2: moves, gets the checklist and the postcard, buys nothing for the home.
        let c = self.story(
            25,
            "bronze",
            "moving_no_purchase",
            "moving house: checklist and postcard, no home purchase (no_home_purchase)",
        );
        self.grocery_run(c, at(2024, 6, 1, 12, 0), at(2025, 12, 1, 0, 0), 20, "store");
        self.event(c, at(2025, 3, 3, 9, 0), "address_change", "app", "12 Meadow Ln, Austin, TX 73301");

        // --- Loyalty ------------------------------------------------------------------------
        // L1: eleventh order in a year (one away), then the twelfth: Gold.
        let c = self.story(
            26,
            "silver",
            "gold_reached",
            "loyalty: one order away from Gold, reaches it with the next order (reached_gold, welcomed_to_gold)",
        );
        self.grocery_run(c, at(2024, 9, 2, 18, 0), at(2025, 12, 31, 0, 0), 21, "app");

        // L2: eleventh order, then slows down: missed_gold.
        let c = self.story(
            27,
            "bronze",
            "gold_missed",
            "loyalty: one order away from Gold, SMS reminder, misses it (missed_gold)",
        );
        self.grocery_run(c, at(2024, 1, 15, 12, 0), at(2024, 7, 20, 0, 0), 18, "store");
        self.grocery_run(c, at(2025, 3, 1, 12, 0), at(2025, 12, 1, 0, 0), 40, "store");

        // --- AWOL ---------------------------------------------------------------------------
        // W1: 90 days without a purchase; comes back after the email (won_back).
        let c = self.story(
            28,
            "bronze",
            "we_miss_you_won_back",
            "AWOL 90 days: we-miss-you email, comes back a week later (won_back)",
        );
        self.grocery_run(c, at(2024, 1, 3, 18, 0), at(2024, 6, 1, 0, 0), 14, "store");
        let last = self.orders.iter().filter(|o| o.customer == c).map(|o| o.t).max().unwrap_or(0);
        self.buy(c, last + 97 * DAY, "store", &[("prosecco", 2), ("mixed_nuts_500g", 1)]);
        self.grocery_run(c, last + 110 * DAY, at(2025, 12, 1, 0, 0), 14, "store");

        // W2: never comes back: email, postcard, lapsed.
        let c = self.story(29, "bronze", "we_miss_you_lapsed", "AWOL 90 days: we-miss-you email and postcard, lapsed");
        self.grocery_run(c, at(2024, 2, 20, 18, 0), at(2024, 9, 1, 0, 0), 16, "web");

        // B1: a big-ticket purchase: thank you, then a review request.
        let c = self.story(30, "gold", "big_basket", "big-ticket purchase: thank-you and review request (thanked)");
        self.buy(c, at(2024, 3, 9, 15, 0), "store", &[("chef_knife", 1)]);
        self.buy(c, at(2024, 11, 29, 11, 0), "store", &[("tv_55in", 1), ("smart_speaker", 1)]);
        self.buy(c, at(2025, 5, 2, 16, 0), "web", &[("espresso_machine", 1)]);

        // N1: new categories, one after another: the cross-sell guide.
        let c = self.story(
            31,
            "bronze",
            "new_categories",
            "new categories: starter guide and complementary picks (guided)",
        );
        self.buy(c, at(2024, 2, 1, 12, 0), "store", &[("novel_paperback", 1)]);
        self.buy(c, at(2024, 5, 11, 12, 0), "store", &[("pruning_shears", 1)]);
        self.buy(c, at(2024, 9, 21, 12, 0), "store", &[("running_shoes", 1)]);
        self.buy(c, at(2025, 1, 18, 12, 0), "web", &[("dog_food_12kg", 1)]);
    }
}

// ---------------------------------------------------------------------------------------------
// Output

impl World {
    /// The three files' contents and the number of transaction rows.
    fn render(&mut self) -> ([(&'static str, String); 3], usize) {
        // Orders in time order get their ids in that order.
        self.orders.sort_by(|a, b| a.t.cmp(&b.t).then(a.customer.cmp(&b.customer)));
        self.events.sort_by(|a, b| {
            a.t.cmp(&b.t).then(a.customer.cmp(&b.customer)).then(a.kind.cmp(b.kind)).then(a.step.cmp(b.step))
        });
        let mut tx = String::from("customer_id,timestamp,order_id,product,category,quantity,amount,channel\n");
        let mut rows = 0;
        for (k, o) in self.orders.iter().enumerate() {
            for l in &o.lines {
                let p = &PRODUCTS[l.product];
                let _ = writeln!(
                    tx,
                    "{},{},O{:06},{},{},{},{},{}",
                    World::id(o.customer),
                    fmt_ts(o.t),
                    k + 1,
                    p.name,
                    p.category,
                    l.qty,
                    fmt_cents(l.cents),
                    o.channel
                );
                rows += 1;
            }
        }
        let mut cu = String::from("customer_id,name,email,phone,address,tier,timezone\n");
        for (i, c) in self.customers.iter().enumerate() {
            let _ = writeln!(
                cu,
                "{},{},{},{},{},{},{}",
                World::id(i),
                csv_field(&c.name),
                c.email,
                c.phone,
                csv_field(&c.address),
                c.tier.unwrap_or("bronze"),
                ZONES[c.zone].name
            );
        }
        let mut ev = String::from("customer_id,timestamp,type,channel,dialogue,step,answer,detail\n");
        for e in &self.events {
            let _ = writeln!(
                ev,
                "{},{},{},{},{},{},{},{}",
                World::id(e.customer),
                fmt_ts(e.t),
                e.kind,
                e.channel,
                e.dialogue,
                e.step,
                e.answer,
                csv_field(&e.detail)
            );
        }
        ([("transactions.csv", tx), ("customers.csv", cu), ("events.csv", ev)], rows)
    }

    /// Writes each file under a temporary name and renames it when complete.
    fn write(&mut self, dir: &Path) -> io::Result<(usize, usize, usize)> {
        fs::create_dir_all(dir)?;
        let (files, rows) = self.render();
        for (name, text) in &files {
            let tmp = dir.join(format!(".{name}.tmp"));
            let mut f = fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, dir.join(name))?;
        }
        Ok((rows, self.customers.len(), self.events.len()))
    }
}

/// The whole data set for a seed: story customers first, then the background population.
fn build(seed: u64) -> World {
    let mut world = World::new(seed);
    world.stories();
    for c in 0..CUSTOMERS {
        if world.customers[c].story.is_none() {
            world.background(c);
        }
    }
    world.assign_tiers();
    world.trunk_show_invitations();
    world.background_responses();
    // Nothing after the period (story timelines run up to the end of 2025).
    let (lo, hi) = (start(), end());
    world.orders.retain(|o| o.t >= lo && o.t < hi && !o.lines.is_empty());
    world.events.retain(|e| e.t >= lo && e.t < hi);
    world
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut world = build(args.seed);
    if args.stories {
        let mut stories = world.stories.clone();
        stories.sort();
        println!("| customer | story |\n| --- | --- |");
        for (c, _, shows) in stories {
            println!("| {} | {shows} |", World::id(c));
        }
    }
    match world.write(&args.out) {
        Ok((rows, customers, events)) => {
            eprintln!(
                "wrote {rows} transaction rows in {} orders, {customers} customers, {events} events to {}",
                world.orders.len(),
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: writing to {}: {e}", args.out.display());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_files() {
        let (a, rows) = build(2005).render();
        let (b, _) = build(2005).render();
        assert_eq!(a, b);
        assert!((5_000..=10_000).contains(&rows), "{rows} rows");
        let bytes: usize = a.iter().map(|(_, t)| t.len()).sum();
        assert!(bytes < 1_000_000, "{bytes} bytes");
    }

    #[test]
    fn usual_gap_timer_matches_kairos() {
        // Gaps 27, 28, 30 days: median 28, twice that is 56 days after the last order.
        let t = [0, 27 * DAY, 55 * DAY, 85 * DAY];
        assert_eq!(usual_gap_due(&t), 85 * DAY + 56 * DAY);
        // Short gaps: at least 30 days.
        assert_eq!(usual_gap_due(&[0, DAY, 2 * DAY, 3 * DAY]), 33 * DAY);
    }

    #[test]
    fn every_response_names_a_dialogue_step_and_answer() {
        let w = build(2005);
        let responses: Vec<&Event> = w.events.iter().filter(|e| e.kind == "response").collect();
        assert!(responses.len() > 40);
        assert!(responses.iter().all(|e| !e.dialogue.is_empty() && !e.step.is_empty() && !e.answer.is_empty()));
    }
}
