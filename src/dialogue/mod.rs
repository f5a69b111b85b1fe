//! Dialogue definitions: raw YAML shapes, the checking stage, and the compiled plan.

pub mod check;
pub mod plan;
pub mod raw;

pub use check::{load, Known, Schemas};
pub use plan::{Dialogue, Plan};
