//! `kairos report` on the shipped examples, rendered by a real browser (headless Chromium):
//! the DOM has a funnel and a chart per dialogue whose numbers are the JSON plan's, a holdout
//! section for every dialogue with `holdout:`, nothing logs a console error, and the
//! screenshot is not blank. Without Chromium the test is skipped, unless
//! KAIROS_REQUIRE_BROWSER=1 (CI), where it fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Run a command to its end, killing it after `limit`; (status ok, stdout, stderr).
fn run_bounded(cmd: &mut Command, limit: Duration) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out_p, err_p) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_p).unwrap())
        .stderr(std::fs::File::create(&err_p).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let ok = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.success();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    (ok, read(&out_p), read(&err_p))
}

fn kairos(args: &[&str]) -> String {
    let out = assert_cmd::Command::cargo_bin("kairos").unwrap().args(args).output().unwrap();
    assert!(out.status.success(), "kairos {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The part of the DOM between `start` and the next `end`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let a = s.find(start)?;
    let b = s[a + start.len()..].find(end)? + a + start.len();
    Some(&s[a..b])
}

/// `data-key="K" data-n="N"` pairs of a funnel.
fn funnel_numbers(funnel: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for part in funnel.split("data-key=\"").skip(1) {
        let key = &part[..part.find('"').unwrap()];
        let n = between(part, "data-n=\"", "\"").unwrap()["data-n=\"".len()..].parse().unwrap();
        out.insert(key.replace("&amp;", "&").replace("&quot;", "\"").replace("&#39;", "'"), n);
    }
    out
}

#[test]
fn the_report_renders_in_chromium_with_the_plans_numbers() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("KAIROS_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "KAIROS_REQUIRE_BROWSER=1 but chromium is not installed"
        );
        println!("skipped: chromium not found");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let abs = |p: &str| root.join(p).to_string_lossy().into_owned();
    let (d, t, c, e) = (
        abs("dialogues"),
        abs("examples/retail/transactions.csv"),
        abs("examples/retail/customers.csv"),
        abs("examples/retail/events.csv"),
    );
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let html_s = html.to_string_lossy().into_owned();
    let inputs = ["-d", &d, "-t", &t, "-c", &c, "-e", &e];
    let mut args = vec!["report", "-q", "--output", &html_s];
    args.extend(inputs);
    kairos(&args);

    // The JSON plan's counts: messages by (dialogue, step, attempt); instances and outcomes
    // by dialogue (with suppressed messages, so customers whose messages are all held back
    // are there too).
    let mut args = vec!["run", "-q", "--format", "json", "--include-suppressed"];
    args.extend(inputs);
    let plan: serde_json::Value = serde_json::from_str(&kairos(&args)).unwrap();
    let mut msgs: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut outcomes: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut entered: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for cust in plan.as_array().unwrap() {
        for inst in cust["instances"].as_array().unwrap() {
            let dlg = inst["dialogue"].as_str().unwrap().to_owned();
            *entered.entry(dlg.clone()).or_default() += 1;
            if let (Some(o), false) = (inst["outcome"].as_str(), inst["projected"].as_bool().unwrap()) {
                *outcomes.entry((dlg.clone(), format!("outcome:{o}"))).or_default() += 1;
            }
            for m in inst["messages"].as_array().unwrap() {
                *by_status.entry(m["status"].as_str().unwrap().to_owned()).or_default() += 1;
                if m["status"] != "suppressed" {
                    let key = format!("msg:{}:{}", m["step"].as_str().unwrap(), m["attempt"]);
                    *msgs.entry((dlg.clone(), key)).or_default() += 1;
                }
            }
        }
    }
    assert!(!msgs.is_empty());

    let profile = dir.path().join("profile");
    let url = format!("file://{html_s}");
    let flags = |p: &Path| {
        let mut c = Command::new(&browser);
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", p.display()));
        c
    };
    let (ok, dom, log) = run_bounded(flags(&profile).arg("--dump-dom").arg(&url), Duration::from_secs(180));
    assert!(ok, "chromium --dump-dom failed:\n{log}");
    for bad in ["ERROR:CONSOLE", "Uncaught", "Not allowed to load local resource"] {
        assert!(!log.contains(bad), "console error in the browser log ({bad}):\n{log}");
    }
    assert!(!dom.contains("<script"), "the report needs no script");

    // The header's totals by status are the plan's.
    for st in ["planned", "due", "scheduled", "suppressed"] {
        let row =
            between(&dom, &format!("data-status=\"{st}\" data-n=\""), "\"").unwrap_or_else(|| panic!("no {st} total"));
        let n: u64 = row.rsplit('"').next().unwrap().parse().unwrap();
        assert_eq!(n, by_status.get(st).copied().unwrap_or(0), "{st} messages in the header");
    }
    let dialogues: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dialogues.len(), 16);
    for id in &dialogues {
        let section = between(&dom, &format!("data-dialogue=\"{id}\""), "</section>")
            .unwrap_or_else(|| panic!("no section for {id}"));
        let funnel = between(section, &format!("data-funnel=\"{id}\""), "</table>")
            .unwrap_or_else(|| panic!("no funnel for {id}"));
        let got = funnel_numbers(funnel);
        assert_eq!(got.get("entered"), entered.get(id), "{id}: entered");
        for ((dlg, key), n) in msgs.iter().chain(outcomes.iter()) {
            if dlg == id {
                assert_eq!(got.get(key), Some(n), "{id}: {key} in the funnel {got:?}");
            }
        }
        // Every message and outcome row of the funnel is in the plan (none made up).
        for (key, n) in &got {
            let from_plan = if key.starts_with("msg:") {
                msgs.get(&(id.clone(), key.clone()))
            } else if key.starts_with("outcome:") {
                outcomes.get(&(id.clone(), key.clone()))
            } else {
                continue;
            };
            assert_eq!(from_plan.copied().unwrap_or(0), *n, "{id}: {key}");
        }
        let chart =
            between(section, &format!("data-chart=\"{id}\""), "</svg>").unwrap_or_else(|| panic!("no chart for {id}"));
        assert!(chart.contains("<svg") && chart.contains("<rect"), "{id}: the chart has no bars");
        assert!(
            between(section, &format!("data-graph=\"{id}\""), "</svg>")
                .is_some_and(|g| g.contains("data-node=\"start\"")),
            "{id}: no graph"
        );
        let yaml = std::fs::read_to_string(Path::new(&d).join(format!("{id}.yaml"))).unwrap();
        let has_holdout = yaml.lines().any(|l| l.starts_with("holdout:"));
        assert_eq!(section.contains(&format!("data-holdout=\"{id}\"")), has_holdout, "{id}: holdout section");
    }
    assert!(
        dialogues.iter().any(|id| dom.contains(&format!("data-holdout=\"{id}\""))),
        "a shipped dialogue has a holdout"
    );

    // The screenshot: the full page drawn, not blank.
    let png = dir.path().join("report.png");
    let (ok, _, log) = run_bounded(
        flags(&dir.path().join("profile2"))
            .arg(format!("--screenshot={}", png.display()))
            .arg("--window-size=1280,4000")
            .arg(&url),
        Duration::from_secs(180),
    );
    assert!(ok, "chromium --screenshot failed:\n{log}");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 4000));
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let inked = pixels.chunks(channels).filter(|p| p.iter().take(3).any(|&v| v < 200)).count();
    let share = inked as f64 / (info.width as f64 * info.height as f64);
    assert!(share > 0.02, "the screenshot is nearly blank: {:.2}% of pixels are not white", share * 100.0);
}
