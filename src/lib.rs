//! kairos: dialogue marketing as a batch tool. Reads customer transactions, profiles and
//! events plus YAML dialogue definitions, replays every customer's timeline through a
//! deterministic evaluator and writes per-customer message plans.
//!
//! Data flows one way: `input` (CSV → columnar tables) → `engine` (per-customer replay of the
//! compiled `dialogue` plan, conditions in `expr`, contact decisions in `policy`) → `output`
//! (CSV/JSON/JSONL), with `report` (summary, explain, graph) beside it. `cli` turns arguments
//! and kairos.yaml (`config`) into checked settings and drives the stages. `model` and `diag`
//! are the leaf vocabulary everybody shares.

pub mod budget;
pub mod cli;
pub mod config;
pub mod diag;
pub mod dialogue;
pub mod engine;
pub mod expr;
pub mod ids;
pub mod input;
pub mod ledger;
pub mod model;
pub mod output;
pub mod policy;
pub mod report;
pub mod template;
pub mod yaml;

pub use cli::main;
