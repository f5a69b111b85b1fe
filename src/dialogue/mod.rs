//! Dialogue definitions in stages: `raw` (YAML shapes with spans) → `load` (files, duplicate
//! ids) → `lower` (checked and compiled: triggers, steps) → `analyze` (reachability) → `plan`
//! (what the engine runs).

pub mod analyze;
pub mod announce;
pub mod load;
pub mod lower;
pub mod plan;
pub mod raw;
#[cfg(test)]
mod tests;

pub use load::{load, shape_problems, Known, Schemas};
pub use plan::{Dialogue, Plan};

/// Compile dialogues given as `(id, yaml)` for unit tests; panics on any error.
#[cfg(test)]
pub fn test_plan(files: &[(&str, &str)]) -> Plan {
    let (plan, diags) = test_plan_with_diagnostics(files);
    assert!(!diags.has_errors(), "{}", diags.0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"));
    plan
}

/// The plan and every diagnostic, for tests of what the engine does with a plan `check`
/// would refuse (its last line of defence).
#[cfg(test)]
pub fn test_plan_with_diagnostics(files: &[(&str, &str)]) -> (Plan, crate::diag::Diagnostics) {
    let dir = tempfile::tempdir().unwrap();
    for (id, body) in files {
        std::fs::write(dir.path().join(format!("{id}.yaml")), body).unwrap();
    }
    let schemas = Schemas::open(|k| {
        if k == crate::model::TableKind::Transactions {
            vec!["amount".into(), "quantity".into()]
        } else {
            Vec::new()
        }
    });
    load(&[dir.path().to_path_buf()], &schemas, &Known::default())
}
