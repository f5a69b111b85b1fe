//! Every trigger kind fires on the right date, and does not fire when it should not.

use super::Fixture;

fn one_step(trigger: &str) -> String {
    format!(
        "trigger:\n  {trigger}\nreentry: always\nsteps:\n  - id: hello\n    send: {{channel: email, template: hi}}\n"
    )
}

#[test]
fn threshold_fires_once_on_the_crossing() {
    let f = Fixture::new();
    f.dialogue("gold", &one_step("threshold: {measure: spend, reaches: 100}")).tx(&[
        "A,2025-01-01,o1,p1,books,60",
        "A,2025-01-05,o2,p1,books,50",
        "A,2025-01-09,o3,p1,books,500",
        "B,2025-01-01,o4,p1,books,99",
    ]);
    // A crosses 100 on 01-05 and stays above: one message, even with reentry: always.
    assert_eq!(f.plan(&[]), "A gold#1 hello/0 email:hi 2025-01-05 planned\n");
}

#[test]
fn threshold_with_window_and_filter() {
    let f = Fixture::new();
    f.dialogue(
        "wine_club",
        &one_step("threshold: {measure: spend, reaches: 100, within: 30d, where: category == \"wine\"}"),
    )
    .tx(&[
        "A,2025-01-01,o1,p1,wine,60",
        "A,2025-01-02,o2,p2,books,500",
        "A,2025-03-01,o3,p1,wine,60",
        "A,2025-03-10,o4,p1,wine,60",
    ]);
    // 60 + 60 within 30 days only in March.
    assert_eq!(f.plan(&[]), "A wine_club#1 hello/0 email:hi 2025-03-10 due\n");
}

#[test]
fn new_category_ignores_categories_already_bought() {
    let f = Fixture::new();
    f.dialogue("cross_sell", &one_step("new_category: {}")).tx(&[
        "A,2025-01-01,o1,p1,books,10",
        "A,2025-02-01,o2,p2,books,10",
        "A,2025-03-01,o3,p3,garden,10",
        "A,2025-04-01,o4,p4,garden,10",
        "B,2025-01-01,o5,p1,books,10",
    ]);
    // The first order is not "new"; books again is not new; garden is, once.
    assert_eq!(f.plan(&[]), "A cross_sell#1 hello/0 email:hi 2025-03-01 planned\n");
}

#[test]
fn life_change_counts_the_first_order_too() {
    let f = Fixture::new();
    f.dialogue("new_parents", &one_step("life_change: {categories: [baby]}")).tx(&[
        "A,2025-01-01,o1,p1,baby,10",
        "A,2025-02-01,o2,p1,baby,10",
        "B,2025-01-01,o3,p1,books,10",
        "B,2025-05-01,o4,p9,baby,10",
    ]);
    assert_eq!(
        f.plan(&[]),
        "A new_parents#1 hello/0 email:hi 2025-01-01 planned\nB new_parents#1 hello/0 email:hi 2025-05-01 due\n"
    );
}

#[test]
fn frequent_buyer_fires_when_the_count_is_reached_within_the_window() {
    let f = Fixture::new();
    f.dialogue("coffee_fan", &one_step("frequent_buyer: {of: category, count: 3, within: 30d, values: [coffee]}")).tx(
        &[
            "A,2025-01-01,o1,p1,coffee,10",
            "A,2025-01-10,o2,p2,coffee,10",
            "A,2025-02-20,o3,p1,coffee,10",
            "A,2025-03-01,o4,p1,coffee,10",
            "A,2025-03-05,o5,p1,coffee,10",
            "A,2025-03-06,o6,p1,coffee,10",
            "B,2025-01-01,o7,p1,tea,10",
            "B,2025-01-02,o8,p1,tea,10",
            "B,2025-01-03,o9,p1,tea,10",
        ],
    );
    // Jan: only 2 in 30 days. 02-20, 03-01, 03-05: third within 30 days fires; 03-06 is the
    // 4th, not a new crossing. B buys tea, which is not counted.
    assert_eq!(f.plan(&[]), "A coffee_fan#1 hello/0 email:hi 2025-03-05 planned\n");
}

#[test]
fn vip_counts_a_product_within_a_year_by_default() {
    let f = Fixture::new();
    f.dialogue("vip", &one_step("vip: {of: product, count: 2}")).tx(&[
        "A,2024-01-01,o1,p1,books,10",
        "A,2025-02-01,o2,p1,books,10",
        "A,2025-03-01,o3,p1,books,10",
    ]);
    assert_eq!(f.plan(&[]), "A vip#1 hello/0 email:hi 2025-03-01 due\n");
}

#[test]
fn one_away_fires_one_short_of_the_target() {
    let f = Fixture::new();
    f.dialogue("almost_gold", &one_step("one_away: {measure: orders, target: 3}")).tx(&[
        "A,2025-01-01,o1,p1,books,10",
        "A,2025-01-01,o1,p2,books,10",
        "A,2025-01-02,o2,p1,books,10",
        "A,2025-01-03,o3,p1,books,10",
        "B,2025-01-01,o4,p1,books,10",
    ]);
    // Two lines of o1 are one order; the second order makes 2 = one away from 3.
    assert_eq!(f.plan(&[]), "A almost_gold#1 hello/0 email:hi 2025-01-02 planned\n");
}

#[test]
fn nth_order_counts_matching_orders_only() {
    let f = Fixture::new();
    f.dialogue("web_orders", &one_step("nth_order: {n: [2, 3], where: channel == \"web\"}")).tx(&[
        "A,2025-01-01,o1,p1,food,10,web",
        "A,2025-01-02,o2,p1,food,10,store",
        "A,2025-01-03,o3,p1,food,10,web",
        "A,2025-01-03,o3,p2,food,10,web",
        "A,2025-01-04,o4,p1,food,10,web",
        "A,2025-01-05,o5,p1,food,10,web",
    ]);
    // Web orders: o1 (1st), o3 (2nd, two lines), o4 (3rd), o5 (4th, not listed).
    assert_eq!(
        f.plan(&[]),
        "A web_orders#1 hello/0 email:hi 2025-01-03 planned\nA web_orders#2 hello/0 email:hi 2025-01-04 planned\n"
    );
}

#[test]
fn absence_timer_fires_at_the_exact_moment_and_is_cancelled_by_a_purchase() {
    let f = Fixture::new();
    f.dialogue("miss_you", &one_step("absence: {after: 30d}")).tx(&[
        "A,2025-01-01T10:00:00Z,o1,p1,books,10",
        "A,2025-01-25T09:00:00Z,o2,p1,books,10",
        "B,2025-01-01T10:00:00Z,o3,p1,books,10",
        "B,2025-01-31T10:00:00Z,o4,p1,books,10",
        "B,2025-06-01T00:00:00Z,o5,p1,books,10",
    ]);
    // A: re-armed at 01-25 09:00, fires 02-24 09:00. B: a purchase exactly when the timer would
    // fire cancels it (events first); fires 30 days after 01-31, then re-arms at 06-01 and the
    // last timer is beyond as-of.
    let out = f.run(&[]);
    let mut r = csv::Reader::from_reader(out.stdout.as_bytes());
    let got: Vec<(String, String)> =
        r.records().map(|x| x.unwrap()).map(|x| (x[1].to_owned(), x[8].to_owned())).collect();
    assert_eq!(got, vec![("A".into(), "2025-02-24T09:00:00Z".into()), ("B".into(), "2025-03-02T10:00:00Z".into())]);
}

#[test]
fn unprecedented_absence_uses_the_customers_own_rhythm() {
    let f = Fixture::new();
    f.dialogue("awol", &one_step("absence: {usual_gap: 2.0, min_orders: 3}")).tx(&[
        // A buys every 10 days: fires 20 days after the last order.
        "A,2025-01-01,o1,p1,books,10",
        "A,2025-01-11,o2,p1,books,10",
        "A,2025-01-21,o3,p1,books,10",
        // B has only two orders: never armed.
        "B,2025-01-01,o4,p1,books,10",
        "B,2025-01-05,o5,p1,books,10",
        "Z,2025-06-01,o6,p1,books,10",
    ]);
    assert_eq!(f.plan(&[]), "A awol#1 hello/0 email:hi 2025-02-10 planned\n");
}

#[test]
fn event_triggers_filter_on_attributes_and_address_change() {
    let f = Fixture::new();
    f.dialogue("moved", &one_step("address_change: {}"))
        .dialogue("angry", &one_step("event: {type: complaint, where: detail == \"late\"}"))
        .tx(&["A,2025-01-01,o1,p1,books,10"])
        .file(
            "events.csv",
            "customer_id,timestamp,type,detail\nA,2025-02-01,address_change,\nA,2025-02-02,complaint,rude\nA,2025-02-03,complaint,late\n",
        );
    assert_eq!(
        f.plan(&[]),
        "A moved#1 hello/0 email:hi 2025-02-01 planned\nA angry#1 hello/0 email:hi 2025-02-03 due\n"
    );
}

#[test]
fn purchase_trigger_with_when_condition_on_profile_and_history() {
    let f = Fixture::new();
    f.dialogue(
        "big_basket",
        "trigger:\n  purchase: {where: amount >= 100}\nwhen: customer.tier == \"gold\" and orders() >= 2\nreentry: always\nsteps:\n  - id: thanks\n    send: {channel: email, template: thanks}\n",
    )
    .tx(&[
        "A,2025-01-01,o1,p1,books,150",
        "A,2025-01-02,o2,p1,books,150",
        "A,2025-01-03,o3,p1,books,50",
        "B,2025-01-01,o4,p1,books,150",
        "B,2025-01-02,o5,p1,books,150",
    ])
    .file("customers.csv", "customer_id,tier,email\nA,gold,a@x.com\nB,silver,b@x.com\n");
    assert_eq!(f.plan(&[]), "A big_basket#1 thanks/0 email:thanks 2025-01-02 planned\n");
}

#[test]
fn reentry_after_a_duration() {
    let f = Fixture::new();
    f.dialogue(
        "big",
        "trigger:\n  purchase: {where: amount >= 100}\nreentry: 30d\nsteps:\n  - id: thanks\n    send: {channel: email, template: t}\n",
    )
    .tx(&[
        "A,2025-01-01,o1,p1,books,150",
        "A,2025-01-20,o2,p1,books,150",
        "A,2025-02-01,o3,p1,books,150",
    ]);
    // The first run ends at once on 01-01; 01-20 is too soon, 02-01 is 31 days later.
    assert_eq!(f.plan(&[]), "A big#1 thanks/0 email:t 2025-01-01 planned\nA big#2 thanks/0 email:t 2025-02-01 due\n");
}

#[test]
fn priority_orders_dialogues_and_as_of_limits_history() {
    let f = Fixture::new();
    f.dialogue("a_low", &one_step("purchase: {}"))
        .dialogue("b_high", &format!("priority: 5\n{}", one_step("purchase: {}")))
        .tx(&["A,2025-01-01,o1,p1,books,10", "A,2025-03-01,o2,p1,books,10"]);
    // Same instant: output sorts by time then dialogue id; the later purchase is past as-of.
    assert_eq!(
        f.plan(&["--as-of", "2025-01-01"]),
        "A a_low#1 hello/0 email:hi 2025-01-01 due\nA b_high#1 hello/0 email:hi 2025-01-01 due\n"
    );
}

#[test]
fn filtered_history_summed_ahead_equals_a_scan_of_the_window() {
    // `category == "wine"` reads only the past row: answered from prefix sums. The same
    // filter written against the current event (`category == event.category`) is scanned row
    // by row. Both must give the same firings, including windows that start inside an order
    // (o2's lines straddle the 2-day window start of o4).
    let f = Fixture::new();
    let cond = |filter: &str| {
        format!(
            "purchase: {{where: 'event.category == \"wine\" and orders(2d, {filter}) >= 2 and spend(2d, {filter}) > 50 and units(30d, {filter}) >= 3 and purchases(30d, {filter}) >= 3'}}"
        )
    };
    f.dialogue("summed", &one_step(&cond("category == \"wine\"")));
    // Summed per value of the event's category.
    f.dialogue("keyed", &one_step(&cond("category == event.category")));
    // Reading history too, it is scanned.
    f.dialogue("scanned", &one_step(&cond("category == event.category and events(\"never\") == 0")));
    let mut body = super::TX_HEADER.to_owned();
    for line in [
        "A,2025-01-01T10:00:00Z,o1,p1,wine,1,30,web",
        "A,2025-01-02T09:00:00Z,o2,p2,wine,1,20,web",
        "A,2025-01-02T11:00:00Z,o2,p3,wine,1,20,web",
        "A,2025-01-02T12:00:00Z,o3,p4,beer,1,99,web",
        "A,2025-01-04T10:30:00Z,o4,p1,wine,1,30,web",
        "A,2025-01-04T10:30:00Z,o4,p5,wine,1,5,web",
        "A,2025-01-05T08:00:00Z,o5,p1,wine,1,1,web",
    ] {
        body.push_str(line);
        body.push('\n');
    }
    f.file("tx.csv", &body);
    let plan = f.plan(&[]);
    let by =
        |d: &str| plan.lines().filter(|l| l.contains(&format!(" {d}#"))).map(|l| l.replace(d, "D")).collect::<Vec<_>>();
    assert!(!by("summed").is_empty(), "{plan}");
    assert_eq!(by("summed"), by("scanned"), "{plan}");
    assert_eq!(by("keyed"), by("scanned"), "{plan}");
}

#[test]
fn a_filter_on_the_events_values_summed_per_value_equals_a_scan() {
    // `product == event.product` is summed once per product the events bring (twelve here);
    // the result must be what a scan of the window gives.
    let f = Fixture::new();
    let cond = |filter: &str| {
        format!(
            "purchase: {{where: 'purchases(20d, {filter}) >= 2 and spend(40d, {filter}) >= 30 and orders(10d, {filter}) >= 2'}}"
        )
    };
    f.dialogue("keyed", &one_step(&cond("product == event.product")));
    f.dialogue("scanned", &one_step(&cond("product == event.product and events(\"never\") == 0")));
    let mut body = super::TX_HEADER.to_owned();
    for k in 0..60u32 {
        let day = 1 + k / 2;
        let product = format!("p{}", (k * 7) % 12);
        body.push_str(&format!(
            "A,2025-01-{day:02}T{:02}:00:00Z,o{},{product},c{},1,{},web\n",
            8 + k % 2,
            k / 3,
            k % 3,
            5 + k % 11
        ));
    }
    f.file("tx.csv", &body);
    let plan = f.plan(&[]);
    let by =
        |d: &str| plan.lines().filter(|l| l.contains(&format!(" {d}#"))).map(|l| l.replace(d, "D")).collect::<Vec<_>>();
    assert!(by("keyed").len() > 5, "{plan}");
    assert_eq!(by("keyed"), by("scanned"), "{plan}");
}

#[test]
fn money_is_summed_exactly_to_the_cent() {
    // In floating point 333.33 + 333.33 + 333.34 is 999.9999…, short of 1000.
    let f = Fixture::new();
    f.dialogue("big", &one_step("threshold: {measure: spend, reaches: 1000, within: 30d}")).tx(&[
        "A,2024-01-01,o0,p1,books,0.07",
        "A,2025-01-01,o1,p1,books,333.33",
        "A,2025-01-02,o2,p1,books,333.33",
        "A,2025-01-03,o3,p1,books,333.34",
        "B,2025-01-01,o4,p1,books,0.1",
        "B,2025-01-02,o5,p1,books,0.2",
    ]);
    f.dialogue("tiny", &one_step("threshold: {measure: spend, reaches: 0.3}"));
    let out = f.run(&["--format", "jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reasons: Vec<String> = out
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {} {}",
                v["customer_id"].as_str().unwrap(),
                v["dialogue"].as_str().unwrap(),
                v["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "A tiny spend reached 333.4 (threshold 0.3, was 0.07)",
            "A big spend reached 1000 (threshold 1000, was 666.66)",
            "B tiny spend reached 0.3 (threshold 0.3, was 0.1)",
        ],
    );
}

/// The casino story: tier credits (a column of the transactions) are the measure; a guest one
/// stay from Diamond is invited, and only if they played in the last 90 days.
#[test]
fn casino_one_stay_from_diamond_on_own_measure_tier_credits() {
    let f = Fixture::new();
    f.file("kairos.yaml", "fields:\n  transactions: {tier_credits: number}\n")
        .dialogue(
            "diamond",
            "trigger:\n  one_away: {measure: tier_credits, target: 1000, away: 250, within: 365d, where: category == \"hotel\"}\nwhen: sum(tier_credits, 90d, category == \"gaming\") > 0\nsteps:\n  - id: invite\n    send: {channel: email, template: one_stay_from_diamond}\n",
        )
        .file(
            "tx.csv",
            "customer_id,timestamp,order_id,product,category,tier_credits,amount\n\
             A,2025-01-10,a1,suite,hotel,400.25,900\n\
             A,2025-02-01,a2,slots,gaming,10,50\n\
             A,2025-03-01,a3,suite,hotel,349.75,800\n\
             B,2025-01-10,b1,suite,hotel,400,900\n\
             B,2025-03-01,b2,suite,hotel,350,800\n\
             C,2025-01-10,c1,suite,hotel,800,900\n",
        );
    // A: hotel credits 400.25 + 349.75 = 750 exactly, with play in the last 90 days. B reaches 750
    // without play. C is 800 from its first stay but had not played.
    assert_eq!(
        f.plan(&["--as-of", "2025-03-31"]),
        "A diamond#1 invite/0 email:one_stay_from_diamond 2025-03-01 planned\n"
    );
    let out = f.cmd(&["graph", "diamond", "-d", "dialogues"]);
    assert!(out.stdout.contains("one_away: tier_credits within 250 of 1000 within 365d"), "{}", out.stdout);
    f.dialogue("typo", "trigger:\n  threshold: {measure: tier_credit, reaches: 5}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n");
    let out = f.run(&[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("error: unknown measure `tier_credit`"), "{}", out.stderr);
    assert!(out.stderr.contains("--> dialogues/typo.yaml:2:24"), "{}", out.stderr);
    assert!(out.stderr.contains("help: did you mean `tier_credits`?"), "{}", out.stderr);
}

/// A dialogue waiting for an event type no row of the events file has (a misspelling) is
/// warned about where the type is written, with the nearest type the file has; the run
/// goes on (a type may simply not have happened yet).
#[test]
fn an_event_type_no_event_has_is_a_warning_with_did_you_mean() {
    let f = Fixture::new();
    f.dialogue(
        "sorry",
        "trigger:\n  event: {type: complaitn}\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n    on:\n      - {event: vist, end: came}\n      - {event: complaint, end: again}\n",
    );
    f.events(&["A,2025-01-01T10:00:00Z,complaint", "A,2025-01-02T10:00:00Z,visit"]);
    let out = f.run(&["--as-of", "2025-01-20", "--no-profile", "--quiet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "", "--quiet prints no warnings");
    let out = f.run(&["--as-of", "2025-01-20", "--no-profile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let warnings: Vec<&str> =
        out.stderr.lines().filter(|l| l.starts_with("warning") || l.contains("-->") || l.contains("help")).collect();
    assert_eq!(
        warnings,
        [
            "warning: sorry: no row of the events file events.csv has type `complaitn`, so nothing here answers to it",
            " --> dialogues/sorry.yaml:2:17",
            "  = help: did you mean `complaint`?",
            "warning: sorry: no row of the events file events.csv has type `vist`, so nothing here answers to it",
            " --> dialogues/sorry.yaml:7:17",
            "  = help: did you mean `visit`?",
        ],
        "{}",
        out.stderr
    );
    // Every shard warns of what the whole file lacks (A's rows are in one of the two shards,
    // and the other's run still knows their types), and so does a `--presorted` run.
    for extra in [&["--shard", "1/2"][..], &["--shard", "2/2"], &["--presorted"]] {
        let out = f.run(&[&["--as-of", "2025-01-20", "--no-profile"][..], extra].concat());
        assert_eq!(out.code, 0, "{extra:?}: {}", out.stderr);
        let got: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("warning") || l.contains("-->") || l.contains("help"))
            .collect();
        assert_eq!(got, warnings, "{extra:?}: {}", out.stderr);
    }
    // `check -e` says it too, before any run (a warning: the exit stays 0).
    let checked = f.cmd(&["check", "-d", "dialogues", "-e", "events.csv"]);
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    assert!(
        checked.stderr.contains("warning: sorry: no row of the events file events.csv has type `complaitn`"),
        "{}",
        checked.stderr
    );
    assert!(checked.stderr.contains(" --> dialogues/sorry.yaml:7:17"), "{}", checked.stderr);
    assert!(checked.stderr.contains("2 warnings"), "{}", checked.stderr);
}

#[test]
fn a_threshold_on_large_amounts_is_reached_exactly() {
    let f = Fixture::new();
    f.dialogue(
        "big",
        "trigger:\n  threshold: {measure: spend, reaches: 999999999999.999}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n",
    );
    // Ten lines of 99999999999.9999 are exactly the threshold. Multiplied by 10^6 as doubles,
    // each line was 12 micro-units short, and the threshold was never reached.
    let mut tx = "customer_id,timestamp,amount\n".to_owned();
    for h in 10..20 {
        tx.push_str(&format!("C1,2025-01-01T{h}:00:00Z,99999999999.9999\n"));
    }
    f.file("tx.csv", &tx);
    assert_eq!(f.plan(&["--no-templates"]), "C1 big#1 a/0 email:t 2025-01-01T19:00:00Z due\n");
}

#[test]
fn an_event_type_a_condition_counts_is_checked_like_a_triggers() {
    let f = Fixture::new();
    f.dialogue(
        "calm",
        "trigger:\n  purchase: {}\nwhen: events(\"complant\", 90d) == 0 and events('complaint') < 3\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n",
    );
    f.tx(&["A,2025-01-03,o1,p1,books,10"]);
    f.events(&["A,2025-01-01T10:00:00Z,complaint"]);
    let out = f.cmd(&["check", "-d", "dialogues", "-e", "events.csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "warning: calm: no row of the events file events.csv has type `complant`, so nothing here answers to it\n --> dialogues/calm.yaml:3:14"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean `complaint`?"), "{}", out.stderr);
    assert!(!out.stderr.contains("`complaint`, so"), "a type the file has is no warning: {}", out.stderr);
}
