//! Template checking and rendering rules.

use std::collections::BTreeSet;

use super::*;
use crate::expr::compile::Schema;
use crate::model::{ColType, TableKind};

fn schema(kind: TableKind, cols: &[&str]) -> Schema {
    Schema::new(kind, cols.iter().map(|c| ((*c).to_owned(), ColType::Str)).collect(), false)
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Fixture { dir }
    }

    fn load(&self) -> (Option<Templates>, Vec<String>) {
        let customers = schema(TableKind::Customers, &["name", "email", "size"]);
        let tx = schema(TableKind::Transactions, &["product", "amount"]);
        let events = schema(TableKind::Events, &["type", "answer"]);
        let catalog = schema(TableKind::Catalog, &["item_id", "type", "title", "author"]);
        let known = Known {
            channels: vec![
                ("email".into(), Some("email".into())),
                ("sms".into(), Some("phone".into())),
                ("letter".into(), Some("address".into())),
                ("phone".into(), Some("phone".into())),
            ],
            customers: &customers,
            tx: &tx,
            events: &events,
            catalog: &catalog,
            facts: BTreeSet::from(["size".to_owned()]),
        };
        let (t, diags) = load(self.dir.path(), &known, DEFAULT_SMS_MAX_SEGMENTS);
        let dir = self.dir.path().display().to_string();
        let msgs = diags.0.iter().map(|d| format!("{} {}", d.location(), d.message).replace(&dir, "T")).collect();
        (t, msgs)
    }
}

fn vars() -> Vars<'static> {
    Vars {
        customer_id: "C1",
        dialogue: "welcome",
        step: "hello",
        channel: "email",
        message_id: "abc",
        send_at: 1_741_168_800,
        customer: vec![("name", Value::from("emily williams")), ("size", Value::from(""))],
        event: vec![("product", Value::from("Telegraph Avenue")), ("amount", Value::from(1110.62))],
        ..Vars::default()
    }
}

use minijinja::value::Value;

#[test]
fn a_good_template_renders_every_part() {
    let f = Fixture::new(&[(
        "welcome.yaml",
        r#"email:
  subject: "Hello {{ customer.name | first_name | title }}"
  text: |
    You bought {{ event.product }} for {{ event.amount | money("$") }}.
    Size: {{ customer.size | default("not known yet") }}
  html: "<p>{{ event.product }} {{ '<b>' }}</p>"
sms:
  text: "Hi {{ customer.name | title }}: {{ event.product }}"
letter:
  address: "{{ customer.name | title }}"
  body: "Dear {{ customer.name | title }}"
phone:
  script: "Call {{ customer.name }} about {{ event.product }}"
"#,
    )]);
    let (t, diags) = f.load();
    assert_eq!(diags, Vec::<String>::new());
    let t = t.unwrap();
    let r = t.render("welcome", "email", &vars()).unwrap().unwrap();
    assert_eq!(r.subject.as_deref(), Some("Hello Emily"));
    assert_eq!(r.body, "You bought Telegraph Avenue for $1,110.62.\nSize: not known yet");
    assert_eq!(r.html.as_deref(), Some("<p>Telegraph Avenue &lt;b&gt;</p>"), "HTML parts are escaped");
    let s = t.render("welcome", "sms", &vars()).unwrap().unwrap();
    assert_eq!(s.body, "Hi Emily Williams: Telegraph Avenue");
    assert_eq!(s.sms.map(|l| (l.segments, l.encoding)), Some((1, sms::Encoding::Gsm7)));
    let l = t.render("welcome", "letter", &vars()).unwrap().unwrap();
    assert_eq!(l.body, "Emily Williams\n\nDear Emily Williams", "the address block comes first");
    assert!(t.render("welcome", "postcard", &vars()).unwrap().is_none());
    let needs = &t.get("welcome").unwrap().needs;
    assert_eq!(needs.customer, Some(BTreeSet::from(["name".to_owned(), "size".to_owned()])));
    assert!(!needs.history);
}

#[test]
fn unknown_variables_are_located_with_a_hint() {
    let f = Fixture::new(&[(
        "promo.yaml",
        "email:\n  subject: \"Hi {{ customer.nmae }}\"\n  text: |\n    line one\n    {{ evnt.product }} and {{ history.spnd }}\n    {{ fact.colour }} {{ trigger.why }}\n",
    )]);
    let (_, diags) = f.load();
    assert_eq!(
        diags,
        vec![
            "T/promo.yaml:2:19 unknown variable `customer.nmae`: the customers file has no column `nmae` in `promo/email.subject`",
            "T/promo.yaml:5:8 unknown variable `evnt` in `promo/email.text`",
            "T/promo.yaml:6:8 unknown variable `fact.colour`: no dialogue remembers `colour` in `promo/email.text`",
            "T/promo.yaml:5:31 unknown variable `history.spnd` in `promo/email.text`",
            "T/promo.yaml:6:26 unknown variable `trigger.why` in `promo/email.text`",
        ]
    );
}

#[test]
fn a_syntax_error_points_into_the_file() {
    let f = Fixture::new(&[("bad.yaml", "sms:\n  text: |\n    ok\n    {% if x %}no end\n")]);
    let (_, diags) = f.load();
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0].starts_with("T/bad.yaml:4:"), "{diags:?}");
    assert!(diags[0].contains("syntax error in `bad/sms.text`"), "{diags:?}");
}

#[test]
fn parts_are_checked_against_channels_and_forms() {
    let f = Fixture::new(&[(
        "x.yaml",
        "emial:\n  text: hi\nemail:\n  text: no subject\nsms:\n  text: hi\n  subject: nope\n",
    )]);
    let (_, diags) = f.load();
    assert_eq!(
        diags,
        vec![
            "T/x.yaml:3:1 the `email` part needs subject",
            "T/x.yaml:1:1 unknown channel `emial`",
            "T/x.yaml:7:12 a `sms` part has no `subject`",
        ]
    );
}

#[test]
fn a_template_that_loops_forever_stops_naming_the_template() {
    let f = Fixture::new(&[(
        "loop.yaml",
        "sms:\n  text: \"{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}\"\n",
    )]);
    let (t, diags) = f.load();
    assert!(diags.is_empty(), "{diags:?}");
    let e = t.unwrap().render("loop", "sms", &vars()).unwrap_err();
    assert!(e.message.contains("loop.yaml"), "{e}");
    assert!(e.message.contains("rendering `loop/sms.text` for customer C1"), "{e}");
    assert!(e.message.contains("out of fuel") || e.message.contains("output passed"), "{e}");
}

#[test]
fn huge_output_is_refused() {
    let f = Fixture::new(&[("big.yaml", "sms:\n  text: \"{{ 'x' * 5000000 }}\"\n")]);
    let (t, _) = f.load();
    let e = t.unwrap().render("big", "sms", &vars()).unwrap_err();
    assert!(e.message.contains("output passed 1024 KiB"), "{e}");
}

#[test]
fn missing_keys_and_parts_are_listed() {
    let f = Fixture::new(&[("welcome.yaml", "sms:\n  text: hi\n")]);
    let (t, _) = f.load();
    let t = t.unwrap();
    let d = std::path::Path::new("d.yaml");
    let m = t.missing([
        ("welcome", "sms", d, "step a".to_owned()),
        ("welcome", "email", d, "step b".to_owned()),
        ("welcome", "email", d, "step b".to_owned()),
        ("welcom", "sms", d, "step c".to_owned()),
    ]);
    let dir = t.dir.display().to_string();
    let m: Vec<String> =
        m.into_iter().map(|d| format!("{} ({})", d.message, d.hint.unwrap_or_default()).replace(&dir, "T")).collect();
    assert_eq!(
        m,
        vec![
            "step b: template `welcome` has no `email` part (it has sms) (add a `email:` part to T/welcome.yaml)",
            "step c: template `welcom` has no file in T (did you mean `welcome`?)",
        ]
    );
}

#[test]
fn two_files_for_one_key_are_an_error() {
    let f = Fixture::new(&[("a.yaml", "sms:\n  text: hi\n"), ("a.yml", "sms:\n  text: ho\n")]);
    let (_, diags) = f.load();
    assert_eq!(diags, vec!["T/a.yml a second template for key `a`"]);
}
