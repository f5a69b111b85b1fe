//! Reports beside the pipeline, for people rather than mail tools: the run summary on stderr,
//! one customer's explanation, and dialogue graphs. They read results; nothing reads them.

pub mod chart;
pub mod explain;
pub mod funnel;
pub mod graph;
pub mod html;
pub mod layout;
pub mod preview;
pub mod stats;
pub mod summary;
