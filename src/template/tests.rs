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

/// A filter that does not exist is an error at its name (it failed `run` only), with the
/// nearest filter; `|` inside a string and filters that exist (built-in or kairos's) are fine.
#[test]
fn unknown_filters_are_located_with_a_hint() {
    let f = Fixture::new(&[(
        "promo.yaml",
        "email:\n  subject: \"Hi {{ customer.name | first_name | defualt('there') }}\"\n  text: |\n    {{ 'a|b' }} {{ history.spend | money('$') | upper }}\n    {% for c in [3, 1] | sort %}{{ c | frobnicate }}{% endfor %}\n",
    )]);
    let (_, diags) = f.load();
    assert_eq!(
        diags,
        vec![
            "T/promo.yaml:2:48 unknown filter `defualt` in `promo/email.subject`",
            "T/promo.yaml:5:40 unknown filter `frobnicate` in `promo/email.text`",
        ]
    );
    assert_eq!(filters_used("{{ x|a }}{% if y | b(1) %}{{ 'c|d' ~ \"e|f\" }} | g"), [("a", 5..6), ("b", 19..20)]);
    let missing: Vec<&str> = FILTERS.iter().copied().filter(|f| !filter_exists(f)).collect();
    assert!(missing.is_empty(), "suggested filters that do not exist: {missing:?}");
    assert!(!filter_exists("defualt"));
}

#[test]
fn own_filters_given_too_much_or_a_bad_format_are_located() {
    let f = Fixture::new(&[(
        "promo.yaml",
        "email:\n  subject: \"{{ history.spend | money('$', 2) }} {{ customer.name | first_name(1) }}\"\n  text: |\n    {{ trigger.at | date('%d %Q') }} {{ trigger.at | date(\"%d/%m/%Y\") }} {{ history.spend | money(message_id) }}\n    {{ trigger.at | date( message_id ) }} {{ history.spend | money }} {{ 'a' | replace('a', 'b') }} {{ trigger.at | date('%-d %B (%A)') }}\n",
    )]);
    let (_, diags) = f.load();
    assert_eq!(
        diags,
        vec![
            "T/promo.yaml:2:43 filter `money` in `promo/email.subject` is given 2 arguments: it takes at most one argument, a currency symbol: `money` or `money(\"$\")`",
            "T/promo.yaml:2:79 filter `first_name` in `promo/email.subject` is given 1 argument: it takes no arguments: `first_name`",
            "T/promo.yaml:4:26 filter `date` in `promo/email.text`: \"%d %Q\" is not a strftime format",
        ]
    );
    assert_eq!(filter_args("x | f", 5), None);
    assert_eq!(
        filter_args(" ( 'a,b' , [1, (2)] ,\"c\\\"d\")", 0),
        Some(vec![(Some("a,b".to_owned()), 3..8), (None, 11..19), (Some("c\"d".to_owned()), 21..27),])
    );
    assert_eq!(filter_args("()", 0), Some(vec![]));
    assert_eq!(filter_args("('a'", 0), None, "never closed");
    assert_eq!(string_literal("'a' ~ 'b'"), None);
    assert_eq!(string_literal("'\\x'"), None, "an escape not undone here is not guessed");
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
    let src: std::sync::Arc<str> = "a: welcome\nb: welcome\nc: welcom\n".into();
    let at = |k: usize| (&src, [3..10, 14..21, 25..31][k].clone());
    let m = t.missing([
        ("welcome", "sms", d, "step a".to_owned(), at(0)),
        ("welcome", "email", d, "step b".to_owned(), at(1)),
        ("welcome", "email", d, "step b".to_owned(), at(1)),
        ("welcom", "sms", d, "step c".to_owned(), at(2)),
    ]);
    let dir = t.dir.display().to_string();
    let m: Vec<String> = m
        .into_iter()
        .map(|d| {
            let place = d.span.map(|r| d.source.as_deref().unwrap_or_default()[r].to_owned()).unwrap_or_default();
            format!("{} ({}) at {place:?}", d.message, d.hint.unwrap_or_default()).replace(&dir, "T")
        })
        .collect();
    assert_eq!(
        m,
        vec![
            "step b: template `welcome` has no `email` part (it has sms) (add a `email:` part to T/welcome.yaml) at \"welcome\"",
            "step c: template `welcom` has no file in T (did you mean `welcome`?) at \"welcom\"",
        ]
    );
}

#[test]
fn two_files_for_one_key_are_an_error() {
    let f = Fixture::new(&[("a.yaml", "sms:\n  text: hi\n"), ("a.yml", "sms:\n  text: ho\n")]);
    let (_, diags) = f.load();
    assert_eq!(diags, vec!["T/a.yml a second template for key `a`"]);
}

mod fast_path {
    //! The fast path gives minijinja's text for the constructs it takes, leaves the rest to
    //! minijinja (at compile time, or at render time for values it is not sure of).

    use std::borrow::Cow;

    use super::*;
    use crate::template::fast::{compile, Bail, Rec, Source, Val};
    use crate::template::render::local_time;

    /// The same message both ways: typed fields, turned into minijinja `Vars` and read by
    /// the fast path.
    struct Msg {
        customer: Vec<(&'static str, Val<'static>)>,
        event: Vec<(&'static str, Val<'static>)>,
        history: Vec<(&'static str, Val<'static>)>,
        facts: Vec<(&'static str, &'static str)>,
        /// When the dialogue was triggered.
        at: i64,
    }

    fn value(v: &Val<'_>) -> Value {
        match v {
            Val::Undef => Value::UNDEFINED,
            Val::Str(s) => Value::from(s.as_ref()),
            Val::F64(x) => Value::from(*x),
            Val::U64(x) => Value::from(*x),
            Val::I64(x) => Value::from(*x),
            Val::Time(t, tz) => local_time(*t, Some(*tz)),
        }
    }

    impl Msg {
        fn vars(&self) -> Vars<'_> {
            let conv = |f: &[(&'static str, Val<'static>)]| f.iter().map(|(k, v)| (*k, value(v))).collect::<Vec<_>>();
            Vars {
                customer: conv(&self.customer),
                event: conv(&self.event),
                history: conv(&self.history),
                facts: self.facts.clone(),
                trigger: render::TriggerVars { kind: "purchase", reason: "", at: self.at },
                tz: Some(chrono_tz::America::Los_Angeles),
                instance: 3,
                attempt: 1,
                contact: "",
                ..vars()
            }
        }
    }

    struct Src<'a>(&'a Msg, Vars<'a>);

    impl Source for Src<'_> {
        fn msg(&self, i: usize) -> Val<'_> {
            let v = &self.1;
            let s = |x| Val::Str(Cow::Borrowed(x));
            match MESSAGE_VARS[i] {
                "customer_id" => s(v.customer_id),
                "dialogue" => s(v.dialogue),
                "instance" => Val::U64(u64::from(v.instance)),
                "step" => s(v.step),
                "attempt" => Val::U64(v.attempt as u64),
                "channel" => s(v.channel),
                "contact" => s(v.contact),
                "template" => s(v.template),
                "message_id" => s(v.message_id),
                "send_at" => Val::Str(Cow::Owned(local_time(v.send_at, v.tz).to_string())),
                _ => Val::Undef,
            }
        }

        fn field(&self, rec: Rec, name: &str) -> Val<'_> {
            let find = |f: &[(&'static str, Val<'static>)]| {
                f.iter().find(|(k, _)| *k == name).map_or(Val::Undef, |(_, v)| v.clone())
            };
            match rec {
                Rec::Customer => find(&self.0.customer),
                Rec::Event => find(&self.0.event),
                Rec::Item => Val::Undef,
                Rec::History => find(&self.0.history),
                Rec::Fact => self
                    .0
                    .facts
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map_or(Val::Undef, |(_, v)| Val::Str(Cow::Borrowed(v))),
                Rec::Trigger => match name {
                    "kind" => Val::Str(Cow::Borrowed(self.1.trigger.kind)),
                    "reason" => Val::Str(Cow::Borrowed(self.1.trigger.reason)),
                    // As the engine's source gives instants: kept as instants.
                    "at" => Val::time(self.1.trigger.at, chrono_tz::America::Los_Angeles),
                    _ => Val::Undef,
                },
            }
        }
    }

    fn s(x: &'static str) -> Val<'static> {
        Val::Str(Cow::Borrowed(x))
    }

    fn messages() -> Vec<Msg> {
        vec![
            Msg {
                customer: vec![("name", s("Zoë  o'brien-smith")), ("email", s("z@example.com")), ("size", s("M"))],
                event: vec![("product", s("garden_hose_20m")), ("amount", Val::F64(1234567.891)), ("type", s("x"))],
                history: vec![("orders", Val::U64(0)), ("last_purchase_at", s("2025-03-01T10:00:00-08:00"))],
                facts: vec![("size", "L")],
                at: 1_741_000_000,
            },
            Msg {
                customer: vec![("name", s("   ")), ("size", Val::F64(0.0))],
                event: vec![("product", s("<b>Tom & \"Jerry\"</b> / 'x'")), ("amount", Val::F64(100.0))],
                history: vec![("orders", Val::U64(12)), ("days_since_last_purchase", Val::I64(-3))],
                facts: vec![],
                at: 1_741_000_000,
            },
            Msg {
                customer: vec![("name", s("")), ("email", Val::F64(5.0)), ("size", Val::F64(f64::NAN))],
                event: vec![("product", s("")), ("amount", s(" 13.5 ")), ("answer", Val::U64(7))],
                history: vec![],
                facts: vec![("size", "")],
                at: 1_700_000_000,
            },
            // Triggered in 1849: Los Angeles was on local mean time, an offset with seconds.
            Msg {
                customer: vec![],
                event: vec![("amount", Val::I64(-2))],
                history: vec![],
                facts: vec![],
                at: -3_800_000_000,
            },
        ]
    }

    const CASES: &[&str] = &[
        "Hi {{ customer.name | first_name | default('there') }}, {{ customer.name | default('x') | title }}!\n",
        "{{ event.amount }}|{{ event.amount | money }}|{{ event.amount | money('$') | default('none') }}|{{ event.answer }}",
        "{{ event.product | default('purchase') | replace('_', ' ') | upper }}/{{ event.product | default('a_b') | replace('', '-') }}",
        "{{ message_id[:2] | upper }} {{ message_id[1:2] }} {{ message_id[2:] }} {{message_id[5:1]}}",
        "{% if customer.size %}size {{ customer.size }}{% else %}no size{% endif %}; {% if fact.size %}{{ fact.size }}{% endif %}.",
        "{{ send_at | date }} / {{ send_at | date('%d/%m/%Y %H:%M') }} / {{ trigger.at | date('%A') }} / {{ trigger.kind }}{{ trigger.reason }}",
        "{{ history.orders | default('?') }} {{ history.days_since_last_purchase | default('?') }} {{ history.last_purchase_at | date | default('never') }}",
        "{{ fact.size | default(customer.email) }} {{ customer.name | default('A B') | lower }} {{ customer.size | default() }}",
        "{{ instance }}-{{ attempt }}-[{{ contact }}]-{{ customer_id }}-{{ dialogue }}-{{ step }}-{{ channel }}\r\n",
        "  {{customer.name|first_name}}  \r",
        "plain text, {no markers} and a lone { or } or %}",
        "{{ trigger.at }}|{{ trigger.at | date('%Y-%m-%d %H:%M:%S %z %Z') }}|{{ trigger.at | first_name | upper }}|{{ trigger.at[:4] }}|{{ trigger.at | default('x') | replace('-', '/') }}|{% if trigger.at %}y{% endif %}",
    ];

    fn load(files: &[(String, String)]) -> Templates {
        let f = Fixture::new(&files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>());
        let (t, _) = f.load();
        t.unwrap()
    }

    #[test]
    fn it_gives_minijinjas_text_for_every_construct_it_takes() {
        let mut files = Vec::new();
        for (i, c) in CASES.iter().enumerate() {
            let q = serde_json::to_string(c).unwrap();
            assert!(compile(c).is_some(), "case {i} has a fast path: {c}");
            files.push((
                format!("c{i}.yaml"),
                format!("sms:\n  text: {q}\nemail:\n  subject: {q}\n  text: x\n  html: {q}\n"),
            ));
        }
        let t = load(&files);
        let mut checked = 0;
        for m in messages() {
            for (i, case) in CASES.iter().enumerate() {
                let key = format!("c{i}");
                for channel in ["sms", "email"] {
                    let vars = m.vars();
                    let slow = t.render(&key, channel, &vars);
                    let src = Src(&m, m.vars());
                    match t.render_fast(&key, channel, &src, true) {
                        Ok(fast) => {
                            assert_eq!(Ok(fast), slow, "case {i} ({channel}): {case}");
                            checked += 1;
                        }
                        Err(Bail) => panic!("case {i} ({channel}) left the fast path: {case}"),
                    }
                }
            }
        }
        assert!(checked >= CASES.len() * 2 * 3, "{checked}");
    }

    #[test]
    fn values_it_is_not_sure_of_go_to_minijinja() {
        let cases = [
            "{{ event.amount | replace('1', '2') }}",
            "{{ event.amount | money }}",
            "{{ customer.email | title }}",
            "{{ customer.missing[:2] }}",
            "{{ event.amount | date }}",
        ];
        let files: Vec<(String, String)> = cases
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("b{i}.yaml"), format!("sms:\n  text: {}\n", serde_json::to_string(c).unwrap())))
            .collect();
        let t = load(&files);
        let m = Msg {
            customer: vec![("email", Val::F64(2.0))],
            event: vec![("amount", s("twelve"))],
            history: vec![],
            facts: vec![],
            at: 0,
        };
        let m2 = Msg { event: vec![("amount", Val::F64(1.5))], ..messages().remove(3) };
        for (i, msg) in [(0, &m2), (1, &m), (2, &m), (3, &m), (4, &m2)] {
            let src = Src(msg, msg.vars());
            assert_eq!(t.render_fast(&format!("b{i}"), "sms", &src, true), Err(Bail), "{}", cases[i]);
        }
        // minijinja says why.
        let e = t.render("b1", "sms", &m.vars()).unwrap_err();
        assert!(e.message.contains("money: \"twelve\" is not a number"), "{e}");
    }

    #[test]
    fn anything_else_has_no_fast_path() {
        for src in [
            "{{- customer.name }}",
            "{{ customer.name -}}",
            "{{+ customer.name }}",
            "{%- if customer.name %}{% endif %}",
            "{# a comment #}",
            "{% for i in range(3) %}{{ i }}{% endfor %}",
            "{% if customer.name %}no end",
            "{% if customer.name == 'x' %}{% endif %}",
            "{% if customer.name %}{% elif customer.size %}{% endif %}",
            "{% raw %}{{ x }}{% endraw %}",
            "{% set x = 1 %}",
            "{{ customer.name ~ '!' }}",
            "{{ customer.name + 1 }}",
            "{{ 'it\\'s' }}",
            "{{ customer.name.first }}",
            "{{ customer['name'] }}",
            "{{ customer }}",
            "{{ range }}",
            "{{ unknown_var }}",
            "{{ trigger.when }}",
            "{{ customer.name | wordcount }}",
            "{{ customer.name | default('a', true) }}",
            "{{ customer.name | replace(customer.size, 'x') }}",
            "{{ message_id[-2:] }}",
            "{{ message_id[::2] }}",
            "{{ customer.name if customer.name else 'x' }}",
            "{{ customer.naïve }}",
            "{{ customer.name }",
        ] {
            assert_eq!(compile(src), None, "{src}");
        }
        assert!(compile("{{ customer.name | first_name | default('there') }} {{ message_id[:8] }}").is_some());
        // So many expressions that minijinja could run out of fuel: its to render (or stop).
        assert!(compile(&"{{ step }}".repeat(1000)).is_some());
        assert_eq!(compile(&"{{ step | upper }}".repeat(10_000)), None);
    }
}

#[test]
fn a_tag_too_long_to_evaluate_safely_is_an_error_before_minijinja_sees_it() {
    let chain = "|upper".repeat(10_000);
    let body = format!("email:\n  subject: x\n  text: \"ok {{{{ 'a' }}}} {{{{ 1{chain} }}}}\"\n");
    let f = Fixture::new(&[("long.yaml", body.as_str())]);
    let (_, diags) = f.load();
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0].starts_with("T/long.yaml:3:23 a tag of 60007 bytes in `long/email.text`"), "{diags:?}");
    let at_limit = format!("{{{{ 1{} }}}}", "|upper".repeat((MAX_TAG - 7) / 6));
    assert!(at_limit.len() <= MAX_TAG);
    assert_eq!(long_tag(&at_limit), None);
    assert_eq!(long_tag(&format!("{at_limit}{{# {} #}}", "x".repeat(5000))), None, "comments are no tags");
    assert_eq!(long_tag(&format!("{{% raw %}}{{{{ {} {{% endraw %}}", "-".repeat(5000))), None, "nor raw text");
    assert_eq!(long_tag(&format!("{{{{ '}}}}{}' }}}}", "x".repeat(3000))), Some(0..3010), "strings skipped");
    assert_eq!(long_tag(&format!("{{% if {} ", "- ".repeat(2000))), Some(0..4007), "never closed");
    // A tag never closed that ends in a character of several bytes (no panic).
    for t in ["Hi {{ first_name }, welcome 🎉", "{{ price €", "{% raw é", "{{ 'é"] {
        assert_eq!(long_tag(t), None, "{t}");
    }
}
