//! Reports beside the pipeline, for people rather than mail tools: the run summary on stderr,
//! one customer's explanation, and dialogue graphs. They read results; nothing reads them.

pub mod explain;
pub mod graph;
pub mod stats;
pub mod summary;
