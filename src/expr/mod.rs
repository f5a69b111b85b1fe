//! The condition language: a small, safe, deterministic expression language over the
//! triggering event, the customer's profile and their purchase history. No loops, no clock,
//! no I/O. Parsed once (winnow), type-checked against the input columns, evaluated many times.

pub mod compile;
pub mod decimal;
pub mod eval;
pub mod parse;

pub use compile::{compile, compile_value, CompileError, Ir, Schema, Scope, Scopes, Ty};
pub use eval::{Ctx, History, Val};
