//! How an announcement's `match:` is answered without testing every catalogue row for every
//! customer: the shapes of condition an index answers, found in the compiled condition.
//!
//! Indexed shapes (either side may be wrapped in `lower()`/`upper()` or any other expression
//! that reads only its own side):
//!
//! * `item.X == customer.Y` (or `fact.Y`), in either order;
//! * `customer.Y in item.X`, where `item.X` holds `|`-separated items (`Chabon|Lethem`);
//! * `item.X in customer.Y`, where `customer.Y` holds several (`favourite_authors`);
//! * any of these joined by `and` to other conditions: the other parts (the residual) are
//!   tested only for the rows the index found.
//!
//! Anything else (`or`, history over `item.*`, `!=`) is a scan: every row of the type is tested
//! for every customer. It still works; `check` says so.

use crate::expr::compile::Scope;
use crate::expr::Ir;

/// An index for one announcement: each catalogue row is filed under the text of `item`
/// (each of its items when `item_list`); a customer looks up the text of `customer` (each of
/// its items when `customer_list`) as of the moment, then tests `residual` on what it found.
#[derive(Debug, Clone)]
pub struct IndexPlan {
    pub item: Ir,
    pub item_list: bool,
    pub customer: Ir,
    pub customer_list: bool,
    /// The rest of `match:` (conjuncts not used by the index).
    pub residual: Option<Ir>,
}

/// What an expression reads.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Reads {
    item: bool,
    customer: bool,
    /// History, the event, a filter row: anything that is neither item nor customer.
    other: bool,
}

fn reads(ir: &Ir) -> Reads {
    let mut r = Reads::default();
    ir.any(|n| {
        match n {
            Ir::Field { scope: Scope::Item, .. } => r.item = true,
            Ir::Field { scope: Scope::Customer, .. } | Ir::Remembered(_) => r.customer = true,
            Ir::Field { .. } | Ir::Hist { .. } | Ir::Events { .. } | Ir::Fact(_) | Ir::Rfm(..) => r.other = true,
            _ => {}
        }
        false
    });
    r
}

fn only_item(ir: &Ir) -> bool {
    let r = reads(ir);
    r.item && !r.customer && !r.other
}

fn only_customer(ir: &Ir) -> bool {
    let r = reads(ir);
    r.customer && !r.item && !r.other
}

/// One conjunct as an index key, if it has an indexed shape.
fn key(ir: &Ir) -> Option<(Ir, bool, Ir, bool)> {
    use crate::expr::parse::BinOp;
    match ir {
        Ir::Cmp(BinOp::Eq, a, b) if only_item(a) && only_customer(b) => {
            Some(((**a).clone(), false, (**b).clone(), false))
        }
        Ir::Cmp(BinOp::Eq, a, b) if only_customer(a) && only_item(b) => {
            Some(((**b).clone(), false, (**a).clone(), false))
        }
        Ir::InText(needle, hay, false) if only_customer(needle) && only_item(hay) => {
            Some(((**hay).clone(), true, (**needle).clone(), false))
        }
        Ir::InText(needle, hay, false) if only_item(needle) && only_customer(hay) => {
            Some(((**needle).clone(), false, (**hay).clone(), true))
        }
        _ => None,
    }
}

fn conjuncts(ir: &Ir, out: &mut Vec<Ir>) {
    match ir {
        Ir::And(a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        other => out.push(other.clone()),
    }
}

/// The index for `matcher`, if one of its conjuncts has an indexed shape.
pub fn plan(matcher: &Ir) -> Option<IndexPlan> {
    let mut parts = Vec::new();
    conjuncts(matcher, &mut parts);
    let k = parts.iter().position(|p| key(p).is_some())?;
    let (item, item_list, customer, customer_list) = key(&parts[k])?;
    parts.remove(k);
    let residual = parts.into_iter().reduce(|a, b| Ir::And(Box::new(a), Box::new(b)));
    Some(IndexPlan { item, item_list, customer, customer_list, residual })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::compile::{compile, Schema, Scopes};
    use crate::expr::parse::parse;
    use crate::model::{ColType, RfmCuts, TableKind};

    fn ir(src: &str) -> Ir {
        let mut tx = Schema::new(
            TableKind::Transactions,
            vec![("author".into(), ColType::Str), ("amount".into(), ColType::Num)],
            false,
        );
        let mut cu = Schema::new(
            TableKind::Customers,
            vec![("fav".into(), ColType::Str), ("favs".into(), ColType::Str), ("size".into(), ColType::Num)],
            false,
        );
        let mut it = Schema::new(
            TableKind::Catalog,
            vec![("author".into(), ColType::Str), ("authors".into(), ColType::Str), ("price".into(), ColType::Num)],
            false,
        );
        let facts = ["author".to_owned()];
        let mut scopes = Scopes {
            event: None,
            row: None,
            customer: &mut cu,
            item: Some(&mut it),
            transactions: &mut tx,
            no_event_reason: "",
            rfm: RfmCuts::default(),
            remembered: &facts,
        };
        compile(&parse(src).unwrap(), &mut scopes).unwrap()
    }

    fn shape(src: &str) -> Option<(bool, bool, bool)> {
        plan(&ir(src)).map(|p| (p.item_list, p.customer_list, p.residual.is_some()))
    }

    #[test]
    fn equalities_and_memberships_are_indexed() {
        assert_eq!(shape("item.author == customer.fav"), Some((false, false, false)));
        assert_eq!(shape("customer.fav == item.author"), Some((false, false, false)));
        assert_eq!(shape("lower(item.author) == lower(customer.fav)"), Some((false, false, false)));
        assert_eq!(shape("item.author == fact.author"), Some((false, false, false)));
        assert_eq!(shape("customer.fav in item.authors"), Some((true, false, false)));
        assert_eq!(shape("item.author in customer.favs"), Some((false, true, false)));
        // The rest of a conjunction is the residual.
        assert_eq!(shape("item.price < 20 and item.author == customer.fav"), Some((false, false, true)));
        let p = plan(&ir("item.price < 20 and item.author == customer.fav and spend(365d) > 10")).unwrap();
        assert!(matches!(p.residual, Some(Ir::And(..))));
    }

    #[test]
    fn other_shapes_scan() {
        assert_eq!(shape("item.author == customer.fav or item.price < 5"), None);
        assert_eq!(shape("item.author != customer.fav"), None);
        assert_eq!(shape("purchases(730d, author == item.author) >= 2"), None);
        assert_eq!(shape("item.author == \"Chabon\""), None);
        // A side that reads both is not a key.
        assert_eq!(shape("(item.author == customer.fav) == (item.price > 3)"), None);
        assert_eq!(shape("customer.fav not in item.authors"), None);
    }
}
