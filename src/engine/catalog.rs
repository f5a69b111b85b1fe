//! Announcements: the catalogue feed (things that happen to products) meets each customer.
//!
//! Built once per run and shared by every worker: the catalogue's rows in a canonical order
//! (timestamp, then content: the rank), and for each announcement dialogue the ranks of the
//! rows of its type, filed by key when its `match:` has an indexed shape
//! (`crate::dialogue::announce`). A customer's replay then asks the index for the rows its
//! current key finds (`Cursor`), instead of testing every row: the cost is one lookup per
//! customer (and per change of the key), not rows × customers.

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use crate::dialogue::announce::IndexPlan;
use crate::dialogue::plan::Trigger;
use crate::dialogue::Plan;
use crate::expr::eval::{eval, list_items, Memory, NO_MEMORY};
use crate::expr::{Ctx, History, Ir, Val};
use crate::input::table::format_num;
use crate::input::{Data, Table};

use super::history::{Cols, Scratch};

/// The catalogue, ordered and indexed for the plan's announcements.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Rank -> catalogue row: by timestamp, then item id, type and every other cell, so that
    /// rows at one instant are taken in an order fixed by their content.
    pub order: Vec<u32>,
    /// Per dialogue (None: not an announcement).
    pub per: Vec<Option<Announce>>,
    /// The catalogue's `type` column.
    pub type_col: Option<usize>,
}

/// One announcement dialogue's rows.
#[derive(Debug, Default)]
pub struct Announce {
    /// Ranks of the rows of the trigger's type, ascending.
    pub all: Vec<u32>,
    /// Key text -> ranks (ascending), when the match is indexed.
    pub index: Option<FxHashMap<Box<str>, Vec<u32>>>,
}

/// A value as an index key: text as it is, numbers in their shortest form. Empty text and a
/// missing number are no key: a customer without a favourite author is not a fan of every
/// item without an author.
pub fn key_text<'a>(v: Val<'a>) -> Option<Cow<'a, str>> {
    match v {
        Val::Str(s) if s.is_empty() => None,
        Val::Str(s) => Some(s),
        Val::Num(x) if x.is_nan() => None,
        Val::Num(x) => Some(Cow::Owned(format_num(x))),
        Val::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
    }
}

/// The keys `ir` gives in `ctx`: one, or each item of a `|`-separated list; sorted, distinct.
pub fn keys(ir: &Ir, list: bool, ctx: &Ctx<'_>) -> Vec<Box<str>> {
    let Some(text) = key_text(eval(ir, ctx)) else { return Vec::new() };
    let mut out: Vec<Box<str>> = if list { list_items(&text).map(Box::from).collect() } else { vec![text.into()] };
    out.sort_unstable();
    out.dedup();
    out
}

fn sort_rows(t: &Table, type_col: Option<usize>) -> Vec<u32> {
    let mut order: Vec<u32> = (0..t.len() as u32).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        t.ts[a]
            .cmp(&t.ts[b])
            .then_with(|| t.customer_id(a).cmp(t.customer_id(b)))
            .then_with(|| type_col.map_or(std::cmp::Ordering::Equal, |c| t.str_at(c, a).cmp(t.str_at(c, b))))
            .then_with(|| {
                (0..t.cols.len())
                    .map(|c| t.text_at(c, a).cmp(&t.text_at(c, b)))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
    });
    order
}

impl Catalog {
    /// The catalogue of `data` ordered and indexed for `plan` (empty without a catalogue).
    pub fn build(data: &Data, plan: &Plan, cols: &Cols) -> Catalog {
        let Some(t) = data.catalog.as_ref() else {
            return Catalog { order: Vec::new(), per: plan.dialogues.iter().map(|_| None).collect(), type_col: None };
        };
        let type_col = t.col("type");
        let order = sort_rows(t, type_col);
        let mut scratch = Scratch::default();
        scratch.prepare(&data.tx, 0..0, cols);
        let hist: History<'_> = scratch.view(data, cols, 0, 0..0, 0..0);
        let per = plan
            .dialogues
            .iter()
            .map(|d| {
                let Some(Trigger::Announcement { kinds, index, .. }) = &d.trigger else { return None };
                let all: Vec<u32> = (0..order.len() as u32)
                    .filter(|&rank| {
                        type_col.is_some_and(|c| kinds.iter().any(|k| t.str_at(c, order[rank as usize] as usize) == k))
                    })
                    .collect();
                let index = index.as_ref().map(|p| file_rows(t, &order, &all, p, &hist));
                Some(Announce { all, index })
            })
            .collect();
        Catalog { order, per, type_col }
    }

    /// Row `r`'s type.
    pub fn kind<'t>(&self, t: &'t Table, r: usize) -> &'t str {
        self.type_col.map_or("", |c| t.str_at(c, r))
    }

    /// The identity of row `r` for message ids: item id, type, timestamp.
    pub fn item_key(&self, t: &Table, r: usize) -> Box<str> {
        format!("{}\u{1f}{}\u{1f}{}", t.customer_id(r), self.kind(t, r), t.ts[r]).into()
    }
}

/// File each row of `all` under its key(s).
fn file_rows(
    t: &Table,
    order: &[u32],
    all: &[u32],
    p: &IndexPlan,
    hist: &History<'_>,
) -> FxHashMap<Box<str>, Vec<u32>> {
    let mut index: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
    for &rank in all {
        let row = order[rank as usize] as usize;
        let ctx = Ctx { now: t.ts[row], event: Some((t, row)), row: None, customer: None, hist, mem: NO_MEMORY };
        for k in keys(&p.item, p.item_list, &ctx) {
            let v = index.entry(k).or_default();
            if v.last() != Some(&rank) {
                v.push(rank);
            }
        }
    }
    index
}

/// One announcement dialogue in one customer's replay: the rows still to come for the key the
/// customer has now.
#[derive(Debug, Clone)]
pub struct Cursor {
    pub dialogue: usize,
    /// The candidate ranks, ascending (None: every row of the type, a scan).
    pub list: Option<Vec<u32>>,
    pub pos: usize,
    /// The customer's key(s) the list was found for.
    pub keys: Vec<Box<str>>,
    /// The last rank handled.
    pub done: Option<u32>,
}

impl Cursor {
    /// The cursors of a customer's replay, in the plan's trigger order. `scan` tests every
    /// row (explanations show why each row did or did not match).
    pub fn start(cat: &Catalog, plan: &Plan, scan: bool) -> Vec<Cursor> {
        plan.order
            .iter()
            .filter_map(|&d| {
                let a = cat.per.get(d)?.as_ref()?;
                let list = if scan || a.index.is_none() { None } else { Some(Vec::new()) };
                Some(Cursor { dialogue: d, list, pos: 0, keys: Vec::new(), done: None })
            })
            .collect()
    }

    fn ranks<'c>(&'c self, cat: &'c Catalog) -> &'c [u32] {
        match &self.list {
            Some(l) => l,
            None => cat.per[self.dialogue].as_ref().map_or(&[], |a| &a.all),
        }
    }

    /// The next candidate: its rank.
    pub fn peek(&self, cat: &Catalog) -> Option<u32> {
        self.ranks(cat).get(self.pos).copied()
    }

    pub fn advance(&mut self, rank: u32) {
        self.pos += 1;
        self.done = Some(rank);
    }

    /// The customer's key is now `keys` (at `now`): find its rows, keeping only those not yet
    /// passed (at or after `now`, after the last handled).
    pub fn rekey(&mut self, cat: &Catalog, t: &Table, keys: Vec<Box<str>>, now: i64) {
        if self.list.is_none() || keys == self.keys {
            return;
        }
        let Some(index) = cat.per[self.dialogue].as_ref().and_then(|a| a.index.as_ref()) else { return };
        let mut list: Vec<u32> = Vec::new();
        for k in &keys {
            if let Some(v) = index.get(k) {
                list.extend_from_slice(v);
            }
        }
        if keys.len() > 1 {
            list.sort_unstable();
            list.dedup();
        }
        let done = self.done;
        self.pos = list.partition_point(|&r| t.ts[cat.order[r as usize] as usize] < now || Some(r) <= done);
        self.list = Some(list);
        self.keys = keys;
    }
}

/// Do the item's and the customer's keys meet? (What the index answers, asked directly: for
/// explanations, which test every row.)
pub fn keys_meet(p: &IndexPlan, ctx: &Ctx<'_>) -> bool {
    let (item, customer) = both_keys(p, ctx);
    item.iter().any(|k| customer.binary_search(k).is_ok())
}

/// The item's keys (from the context's event) and the customer's (without it).
fn both_keys(p: &IndexPlan, ctx: &Ctx<'_>) -> (Vec<Box<str>>, Vec<Box<str>>) {
    (keys(&p.item, p.item_list, ctx), keys(&p.customer, p.customer_list, &Ctx { event: None, ..*ctx }))
}

/// The customer-side keys of an indexed announcement at this moment.
pub fn customer_keys(
    p: &IndexPlan,
    now: i64,
    customer: Option<(&Table, usize)>,
    hist: &History<'_>,
    mem: &Memory,
) -> Vec<Box<str>> {
    let ctx = Ctx { now, event: None, row: None, customer, hist, mem };
    keys(&p.customer, p.customer_list, &ctx)
}

/// An announcement whose type no catalogue row has (a typo, or a feed without such rows
/// today): a warning naming the types there are.
pub fn type_warnings(plan: &Plan, data: &Data) -> Vec<crate::diag::Diagnostic> {
    let Some(t) = data.catalog.as_ref() else { return Vec::new() };
    let mut types: Vec<&str> = t.col("type").map_or(Vec::new(), |c| (0..t.len()).map(|r| t.str_at(c, r)).collect());
    types.sort_unstable();
    types.dedup();
    let mut out = Vec::new();
    for d in &plan.dialogues {
        let Some(Trigger::Announcement { kinds, .. }) = &d.trigger else { continue };
        for k in kinds.iter().filter(|k| types.binary_search(&k.as_str()).is_err()) {
            let hint = crate::diag::did_you_mean(k, types.iter().copied())
                .map_or_else(|| format!("its types are: {}", types.join(", ")), |x| format!("did you mean `{x}`?"));
            out.push(
                crate::diag::Diagnostic::warning(
                    &d.file,
                    format!(
                        "{}: no row of the catalogue {} has type `{k}`, so it announces nothing",
                        d.id,
                        t.path.display()
                    ),
                )
                .with_hint(hint),
            );
        }
    }
    out
}

/// For explanations: why a row did or did not match (`held`: the match, the `where:`).
pub fn why(
    index: Option<&IndexPlan>,
    matcher: Option<&crate::dialogue::plan::Cond>,
    cond: Option<&crate::dialogue::plan::Cond>,
    held: (bool, bool),
    ctx: &Ctx<'_>,
) -> String {
    let show = |k: &[Box<str>]| {
        if k.is_empty() {
            "nothing".to_owned()
        } else {
            k.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        }
    };
    let src = matcher.map_or("", |m| m.src.as_str());
    match held {
        (false, _) => match index {
            Some(p) => {
                let (item, customer) = both_keys(p, ctx);
                if item.iter().any(|k| customer.binary_search(k).is_ok()) {
                    format!(
                        "`{src}` is false (the item and the customer agree on {}, the rest does not hold)",
                        show(&customer)
                    )
                } else {
                    format!("`{src}` is false: the item has {}, the customer {}", show(&item), show(&customer))
                }
            }
            None => format!("`{src}` is false"),
        },
        (true, false) => format!("`where: {}` is false", cond.map_or("", |c| c.src.as_str())),
        (true, true) if src.is_empty() => "every row of the type".to_owned(),
        (true, true) => format!("`{src}` holds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_text_numbers_and_lists() {
        assert_eq!(key_text(Val::Num(12.0)).as_deref(), Some("12"));
        assert_eq!(key_text(Val::Num(f64::NAN)), None);
        assert_eq!(key_text(Val::Str(Cow::Borrowed(""))), None);
        let items: Vec<&str> = list_items(" Chabon | Lethem||Chabon ").collect();
        assert_eq!(items, ["Chabon", "Lethem", "Chabon"]);
    }
}
