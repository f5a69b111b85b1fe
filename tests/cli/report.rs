//! `kairos report`: one self-contained, deterministic HTML file.

use super::Fixture;

fn shipped(extra: &[&str]) -> super::Output {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let abs = |p: &str| root.join(p).to_string_lossy().into_owned();
    let (d, t, c, e) = (
        abs("dialogues"),
        abs("examples/retail/transactions.csv"),
        abs("examples/retail/customers.csv"),
        abs("examples/retail/events.csv"),
    );
    let mut args = vec!["report", "-d", &d, "-t", &t, "-c", &c, "-e", &e];
    args.extend(extra);
    Fixture::new().cmd(&args)
}

/// The values of every `name=` attribute (quoted with `"`) in `html`.
fn attrs<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let pat = format!(" {name}=\"");
    html.split(pat.as_str()).skip(1).map(|p| &p[..p.find('"').unwrap_or(p.len())]).collect()
}

#[test]
fn the_report_loads_nothing_from_outside_and_is_the_same_bytes_every_run() {
    let one = shipped(&["-o", "-", "--threads", "1"]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    let html = &one.stdout;
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    assert_eq!(html.matches("<section class=\"dialogue\"").count(), 16);
    for tag in ["<script", "<link", "<img", "<iframe", "<object", "<embed", "@import"] {
        assert!(!html.contains(tag), "{tag} in the report");
    }
    // Links stay inside the page; no attribute names another resource.
    let hrefs = attrs(html, "href");
    assert!(!hrefs.is_empty());
    for h in hrefs {
        assert!(h.starts_with('#'), "href={h:?}");
    }
    for name in ["src", "xlink:href", "srcset", "action", "poster", "data"] {
        assert_eq!(attrs(html, name), Vec::<&str>::new(), "{name}=");
    }
    for u in html.split("url(").skip(1) {
        assert!(u.starts_with('#'), "url({}", &u[..u.len().min(40)]);
    }
    // The only absolute URL is the SVG namespace, which is a name, not a download.
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for scheme in ["http://", "https://", "ftp://", "file:", "data:", "//"] {
        let hit = without_ns.match_indices(scheme).find(|(i, _)| {
            // `//` inside text such as "a // b" is harmless; only as an attribute value start.
            scheme != "//" || without_ns[..*i].ends_with('"') || without_ns[..*i].ends_with('(')
        });
        assert!(
            hit.is_none(),
            "{scheme} in the report near {:?}",
            hit.map(|(i, _)| &without_ns[i.saturating_sub(60)..i + 20])
        );
    }
    let two = shipped(&["-o", "-", "--threads", "3"]);
    assert_eq!(two.stdout, one.stdout, "the report depends on the thread count");
}

const HOLDOUT: &str = "\
description: Come back within 30 days.
trigger:
  purchase: {}
reentry: never
holdout: 0.5
goals:
  - {event: purchase, outcome: came_back}
steps:
  - id: hello
    send: {channel: email, template: hello, delay: 1d}
    wait: 30d
    end: lapsed
";

#[test]
fn a_holdout_dialogue_gets_its_comparison_and_baseline() {
    let f = Fixture::new();
    f.dialogue("back", HOLDOUT);
    let mut tx = Vec::new();
    for i in 0..120 {
        tx.push(format!("C{i:03},2025-01-01,o{i}a,p,books,10"));
        // Every third customer comes back on day 10, every fifth before the message.
        if i % 3 == 0 {
            tx.push(format!("C{i:03},2025-01-10,o{i}b,p,books,10"));
        } else if i % 5 == 0 {
            tx.push(format!("C{i:03},2025-01-01T12:00:00Z,o{i}b,p,books,10"));
        }
    }
    let tx: Vec<&str> = tx.iter().map(String::as_str).collect();
    f.tx(&tx);
    let out = f.cmd(&["report", "-d", "dialogues", "-t", "tx.csv", "--as-of", "2025-03-31", "-o", "r.html"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.ends_with(
            "kairos: report of 1 dialogue over 120 customers up to 2025-03-31T23:59:59Z written to r.html\n"
        ),
        "{}",
        out.stderr
    );
    let html = super::read(&f.path("r.html"));
    let section = &html[html.find("<h3>Funnel").unwrap()..html.find("<h3>Graph").unwrap()];
    // The chart is checked in the browser; here the numbers and words.
    let chart_start = section.find("<div class=\"chart\"").unwrap();
    let svg_end = section[chart_start..].find("</svg>").unwrap() + chart_start;
    let chart_end = section[svg_end..].find("</div>").unwrap() + svg_end + "</div>".len();
    let text = format!("{}<!-- chart -->{}", &section[..chart_start], &section[chart_end..]);
    insta::assert_snapshot!("report_holdout_section", text);
    // No half-written file is left beside it.
    let left: Vec<String> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn report_needs_an_output_and_never_replaces_an_input() {
    let f = Fixture::new();
    f.dialogue("back", HOLDOUT).tx(&["C1,2025-01-01,o1,p,books,10"]);
    let out = f.cmd(&["report", "-d", "dialogues", "-t", "tx.csv"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--output <FILE>"), "{}", out.stderr);
    let out = f.cmd(&["report", "-d", "dialogues", "-t", "tx.csv", "-o", "tx.csv"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("it is the transactions input"), "{}", out.stderr);
    assert_eq!(super::read(&f.path("tx.csv")).lines().count(), 2, "the input is untouched");
    let out = f.cmd(&["report", "-d", "dialogues", "-t", "tx.csv", "-o", "dialogues"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("is a folder"), "{}", out.stderr);
}
