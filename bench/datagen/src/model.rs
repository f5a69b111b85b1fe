//! The retail world: categories, the product catalog, and per-customer profiles. Every value is
//! a pure function of `(seed, customer index)`, so the files can be written in any order.

use crate::rng::{det_exp, Rng, Table};

/// RNG streams, one per purpose, so adding a draw to one never shifts another.
pub mod stream {
    pub const CATALOG: u8 = 0;
    pub const CORE: u8 = 1;
    pub const PROFILE: u8 = 2;
    pub const ORDERS: u8 = 3;
    pub const PERSON: u8 = 4;
    pub const EVENTS: u8 = 5;
    pub const ORDER_OF_CUSTOMERS: u8 = 6;
}

pub struct Category {
    pub name: &'static str,
    /// Share of the catalog and of demand.
    pub weight: u32,
    /// Typical shelf price in cents.
    pub base_cents: u32,
    /// Bought in multiples more often (consumables).
    pub bulk: bool,
}

const fn cat(name: &'static str, weight: u32, base_cents: u32, bulk: bool) -> Category {
    Category { name, weight, base_cents, bulk }
}

pub const CATEGORIES: [Category; 25] = [
    cat("groceries", 140, 450, true),
    cat("baby", 20, 1_800, true),
    cat("home_improvement", 40, 3_500, false),
    cat("garden", 30, 2_500, false),
    cat("electronics", 50, 8_000, false),
    cat("apparel", 70, 3_000, false),
    cat("shoes", 30, 6_000, false),
    cat("beauty", 60, 1_500, true),
    cat("toys", 40, 2_000, false),
    cat("books", 50, 1_400, false),
    cat("sports", 30, 3_500, false),
    cat("pet", 40, 2_200, true),
    cat("kitchen", 40, 2_500, false),
    cat("furniture", 20, 18_000, false),
    cat("travel", 10, 25_000, false),
    cat("outdoor", 20, 5_000, false),
    cat("jewelry", 10, 9_000, false),
    cat("office", 20, 1_200, true),
    cat("music", 20, 1_500, false),
    cat("health", 50, 1_300, true),
    cat("automotive", 20, 3_000, false),
    cat("crafts", 20, 1_100, true),
    cat("wine", 40, 1_800, true),
    cat("coffee", 50, 900, true),
    cat("snacks", 80, 400, true),
];
pub const BABY: u8 = 1;
pub const HOME_IMPROVEMENT: u8 = 2;

pub const CHANNELS: [&str; 3] = ["web", "store", "app"];
pub const STORE: u8 = 1;
/// Local hour-of-day weights per channel (web, store, app).
pub const HOURS: [[u32; 24]; 3] = [
    [2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 7, 6, 6, 6, 6, 7, 8, 9, 10, 9, 6, 4],
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 4, 6, 8, 10, 9, 8, 8, 9, 10, 9, 6, 3, 1, 0, 0],
    [2, 1, 1, 0, 0, 1, 2, 5, 7, 5, 4, 5, 7, 6, 5, 5, 6, 8, 8, 9, 10, 10, 7, 4],
];

pub struct Zone {
    pub name: &'static str,
    pub weight: u32,
    /// Standard-time UTC offset in seconds (DST is ignored; only used to place shopping hours).
    pub offset: i64,
    /// (city, region, postal code prefix)
    pub cities: &'static [(&'static str, &'static str, &'static str)],
}

pub const ZONES: [Zone; 9] = [
    Zone {
        name: "America/New_York",
        weight: 34,
        offset: -5 * 3600,
        cities: &[
            ("New York", "NY", "100"),
            ("Boston", "MA", "021"),
            ("Philadelphia", "PA", "191"),
            ("Atlanta", "GA", "303"),
            ("Miami", "FL", "331"),
            ("Charlotte", "NC", "282"),
            ("Columbus", "OH", "432"),
        ],
    },
    Zone {
        name: "America/Chicago",
        weight: 26,
        offset: -6 * 3600,
        cities: &[
            ("Chicago", "IL", "606"),
            ("Dallas", "TX", "752"),
            ("Houston", "TX", "770"),
            ("Minneapolis", "MN", "554"),
            ("Kansas City", "MO", "641"),
            ("Nashville", "TN", "372"),
        ],
    },
    Zone {
        name: "America/Denver",
        weight: 7,
        offset: -7 * 3600,
        cities: &[("Denver", "CO", "802"), ("Salt Lake City", "UT", "841"), ("Albuquerque", "NM", "871")],
    },
    Zone {
        name: "America/Phoenix",
        weight: 3,
        offset: -7 * 3600,
        cities: &[("Phoenix", "AZ", "850"), ("Tucson", "AZ", "857")],
    },
    Zone {
        name: "America/Los_Angeles",
        weight: 22,
        offset: -8 * 3600,
        cities: &[
            ("Los Angeles", "CA", "900"),
            ("San Francisco", "CA", "941"),
            ("San Diego", "CA", "921"),
            ("Seattle", "WA", "981"),
            ("Portland", "OR", "972"),
            ("Las Vegas", "NV", "891"),
        ],
    },
    Zone { name: "America/Anchorage", weight: 1, offset: -9 * 3600, cities: &[("Anchorage", "AK", "995")] },
    Zone { name: "Pacific/Honolulu", weight: 1, offset: -10 * 3600, cities: &[("Honolulu", "HI", "968")] },
    Zone {
        name: "Europe/London",
        weight: 4,
        offset: 0,
        cities: &[("London", "UK", "E1"), ("Manchester", "UK", "M1"), ("Leeds", "UK", "LS1")],
    },
    Zone {
        name: "Europe/Berlin",
        weight: 2,
        offset: 3600,
        cities: &[("Berlin", "DE", "101"), ("Munich", "DE", "803"), ("Hamburg", "DE", "204")],
    },
];

/// Number of products in the catalog.
pub const PRODUCTS: usize = 5_000;

pub struct Catalog {
    pub category: Vec<u8>,
    pub price_cents: Vec<u32>,
    /// Zipf-like popularity over all products.
    pub global: Table,
    /// Per category: its products and their popularity.
    pub by_category: Vec<(Vec<u16>, Table)>,
    /// Category popularity, for picking favourites.
    pub category_weights: Vec<u32>,
}

/// Rounds a price to a retail "charm" price ending in .49 or .99.
pub fn charm(cents: f64) -> u64 {
    let halves = (cents / 50.0).round().max(1.0) as u64;
    halves * 50 - 1
}

impl Catalog {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed, stream::CATALOG, 0);
        let category_weights: Vec<u32> = CATEGORIES.iter().map(|c| c.weight).collect();
        let category: Vec<u8> = (0..PRODUCTS)
            .map(|p| if p < CATEGORIES.len() { p as u8 } else { rng.pick(&category_weights) as u8 })
            .collect();
        let price_cents: Vec<u32> = category
            .iter()
            .map(|&c| {
                let base = f64::from(CATEGORIES[c as usize].base_cents);
                charm(base * det_exp(0.55 * rng.normal())) as u32
            })
            .collect();
        // Popularity rank: a random permutation, weight ∝ 1 / (rank + 3) (Zipf–Mandelbrot, s = 1).
        let mut rank: Vec<u32> = (0..PRODUCTS as u32).collect();
        for i in (1..PRODUCTS).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            rank.swap(i, j);
        }
        let weight = |p: usize| 1_000_000_000_000u64 / (u64::from(rank[p]) + 3);
        let global = Table::new((0..PRODUCTS).map(weight));
        let by_category = (0..CATEGORIES.len())
            .map(|c| {
                let products: Vec<u16> =
                    (0..PRODUCTS).filter(|&p| category[p] as usize == c).map(|p| p as u16).collect();
                let table = Table::new(products.iter().map(|&p| weight(p as usize)));
                (products, table)
            })
            .collect();
        Self { category, price_cents, global, by_category, category_weights }
    }

    pub fn in_category(&self, rng: &mut Rng, cat: u8) -> u16 {
        let (products, table) = &self.by_category[cat as usize];
        products[table.sample(rng)]
    }
}

/// What is needed to allocate rows: drawn first, for all customers.
pub struct Core {
    /// Day of the period on which the customer first buys.
    pub acquired: u32,
    /// Standard-normal-ish activity score; activity = exp(1.05 z).
    pub activity_z: f64,
    /// Integer weight for row allocation (activity × share of the period still ahead).
    pub weight: u64,
}

pub fn core(seed: u64, days: u32, i: u64) -> Core {
    let mut rng = Rng::new(seed, stream::CORE, i);
    // A third are existing customers, seen in the first weeks; the rest are acquired over time.
    let acquired = if rng.chance(0.35) {
        rng.below(u64::from(days.min(45))) as u32
    } else {
        rng.below(u64::from((days * 23 / 25).max(1))) as u32
    };
    let activity_z = rng.normal();
    let ahead = f64::from(days - acquired) / f64::from(days);
    let w = det_exp(1.05 * activity_z) * (0.08 + 0.92 * ahead);
    Core { acquired, activity_z, weight: ((w * 1e6).round() as u64).max(1) }
}

/// ln(30): median personal gap of 30 days (a literal, so no libm call is involved).
const LN_30: f64 = 3.401_197_381_662_155_5;

pub const TIERS: [&str; 3] = ["bronze", "silver", "gold"];

pub struct Profile {
    pub zone: usize,
    /// Multiplier on prices paid (premium variants, bigger baskets).
    pub value_level: f64,
    pub tier: usize,
    pub channel: u8,
    pub favourites: [u8; 2],
    /// Mean days between orders before fitting into the customer's active span.
    pub mean_gap_days: f64,
    /// For churners, the fraction of the remaining period during which they still buy.
    pub churn_at: Option<f64>,
    /// One long absence (lapse and return) somewhere in the history.
    pub lapse: bool,
    /// Life change: the category that shows up in later orders, and when (fraction of orders).
    pub life_change: Option<(u8, f64)>,
}

pub fn profile(seed: u64, i: u64, core: &Core, catalog: &Catalog) -> Profile {
    let mut rng = Rng::new(seed, stream::PROFILE, i);
    let zone_weights: Vec<u32> = ZONES.iter().map(|z| z.weight).collect();
    let zone = rng.pick(&zone_weights);
    let value_z = rng.normal();
    let value_level = det_exp(0.75 * value_z).clamp(0.15, 10.0);
    let score = 0.6 * core.activity_z + 0.6 * value_z + 0.5 * rng.normal();
    let tier = if score > 1.38 {
        2
    } else if score > 0.5 {
        1
    } else {
        0
    };
    let channel = rng.pick(&[45, 38, 17]) as u8;
    let first = rng.pick(&catalog.category_weights) as u8;
    let mut second = rng.pick(&catalog.category_weights) as u8;
    if second == first {
        second = ((first as usize + 1 + rng.below(24) as usize) % CATEGORIES.len()) as u8;
    }
    let mean_gap_days = det_exp(LN_30 + 0.7 * rng.normal()).clamp(7.0, 120.0);
    let churn_at = rng.chance(0.30).then(|| rng.range(0.15, 0.75));
    let lapse = rng.chance(0.08);
    let life_change = rng.chance(0.02).then(|| {
        let c = if rng.chance(0.55) { BABY } else { HOME_IMPROVEMENT };
        (c, rng.range(0.3, 0.7))
    });
    Profile {
        zone,
        value_level,
        tier,
        channel,
        favourites: [first, second],
        mean_gap_days,
        churn_at,
        lapse,
        life_change,
    }
}
