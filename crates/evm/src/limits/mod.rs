//! Bounds on RPC execution that gas alone does not give: wall-clock time ([`Deadline`]) and the
//! size of a trace ([`TraceBudget`]). Both are inspectors, so they ride along with any tracer
//! (as a tuple with it) and halt the execution they watch from inside the interpreter.

mod deadline;
mod trace_budget;

pub use deadline::Deadline;
pub use trace_budget::{StepRecording, TraceBudget};
