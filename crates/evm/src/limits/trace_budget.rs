//! A cap on the output a tracer builds (`--rpc.max-trace-bytes`).
//!
//! A tracer's memory grows with what it records, not with gas: geth's struct logger copies the
//! whole stack at every step, so a loop over a full stack records about 32 KB per instruction
//! and a 50M-gas call tens of gigabytes. Checking the response size after the trace is built is
//! too late. This inspector runs beside the tracer and charges, as execution goes, an estimate
//! of the bytes the trace will take once rendered as JSON (the form that is built last and is
//! largest): per recorded step its fixed fields, its stack, memory and return data when those
//! are recorded, and at `SLOAD`/`SSTORE` the contract's storage map that geth's format repeats
//! there; per call frame and log their data. Once the estimate passes the budget it halts the
//! execution, and the caller refuses the trace with [`TraceBudget::exceeded`] set, before the
//! memory was ever used.

use alloy_primitives::{Address, U256};
use revm::{
    bytecode::opcode,
    context_interface::ContextTr,
    inspector::Inspector,
    interpreter::{
        CallInputs, CallOutcome, CreateInputs, CreateOutcome, Interpreter,
        interpreter_types::{Jumps, ReturnData},
    },
    primitives::Log,
};
use std::collections::{HashMap, HashSet};

/// JSON bytes of one struct-log entry without stack, memory, storage or return data.
const STEP_BYTES: usize = 120;
/// JSON bytes of one 32-byte word (a quoted hex string and a comma).
const WORD_BYTES: usize = 69;
/// JSON bytes of one storage entry (two quoted 32-byte hex strings).
const SLOT_BYTES: usize = 140;
/// JSON bytes of a call frame's fixed fields.
const FRAME_BYTES: usize = 300;
/// JSON bytes of a log's fixed fields.
const LOG_BYTES: usize = 150;

/// What a tracer records at each instruction (nothing for tracers that record per call).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepRecording {
    /// Whether each instruction is recorded at all (geth's struct logger).
    pub steps: bool,
    /// Whether the stack is copied at each step.
    pub stack: bool,
    /// Whether memory is copied at each step.
    pub memory: bool,
    /// Whether the touched storage is repeated at `SLOAD`/`SSTORE`.
    pub storage: bool,
    /// Whether the last return data is copied at each step.
    pub return_data: bool,
}

/// An inspector that halts execution once the trace it accompanies would exceed `limit` bytes.
#[derive(Debug, Clone)]
pub struct TraceBudget {
    limit: usize,
    used: usize,
    recording: StepRecording,
    /// Slots touched so far per contract: geth's format repeats them at every storage access.
    touched: HashMap<Address, HashSet<U256>>,
    exceeded: bool,
}

impl TraceBudget {
    /// A budget of `limit` bytes for a tracer that records `recording` per instruction.
    pub fn new(limit: usize, recording: StepRecording) -> Self {
        Self {
            limit,
            used: 0,
            recording,
            touched: HashMap::new(),
            exceeded: false,
        }
    }

    /// Whether the trace outgrew its budget (execution was halted).
    pub const fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// The estimated bytes charged so far.
    pub const fn used(&self) -> usize {
        self.used
    }

    /// The budget in bytes.
    pub const fn limit(&self) -> usize {
        self.limit
    }

    /// Charges `bytes`; false once the budget is spent.
    fn charge(&mut self, bytes: usize) -> bool {
        self.used = self.used.saturating_add(bytes);
        self.exceeded = self.exceeded || self.used > self.limit;
        !self.exceeded
    }

    /// What recording the step `interp` is about to execute adds.
    fn step_bytes(&mut self, interp: &Interpreter) -> usize {
        let recording = self.recording;
        let mut bytes = STEP_BYTES;
        if recording.stack {
            bytes += interp.stack.len() * WORD_BYTES;
        }
        if recording.memory {
            bytes += interp.memory.len().div_ceil(32) * WORD_BYTES;
        }
        if recording.return_data {
            bytes += interp.return_data.buffer().len() * 2;
        }
        if recording.storage {
            let op = interp.bytecode.opcode();
            if op == opcode::SLOAD || op == opcode::SSTORE {
                let contract = interp.input.target_address;
                let slots = self.touched.entry(contract).or_default();
                if let Ok(slot) = interp.stack.peek(0) {
                    slots.insert(slot);
                }
                bytes += slots.len() * SLOT_BYTES;
            }
        }
        bytes
    }
}

impl<CTX: ContextTr> Inspector<CTX> for TraceBudget {
    fn step(&mut self, interp: &mut Interpreter, _context: &mut CTX) {
        if self.exceeded {
            interp.halt_oog();
            return;
        }
        if self.recording.steps {
            let bytes = self.step_bytes(interp);
            if !self.charge(bytes) {
                interp.halt_oog();
            }
        }
    }

    fn log(&mut self, _context: &mut CTX, log: Log) {
        self.charge(LOG_BYTES + log.data.data.len() * 2 + log.topics().len() * WORD_BYTES);
    }

    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let fits = self.charge(FRAME_BYTES + inputs.input.len() * 2);
        (!fits).then(|| CallOutcome::new_oog(inputs.gas_limit, inputs.return_memory_offset.clone()))
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        self.charge(outcome.result.output.len() * 2);
    }

    fn create(&mut self, _context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        let fits = self.charge(FRAME_BYTES + inputs.init_code().len() * 2);
        (!fits).then(|| CreateOutcome::new_oog(inputs.gas_limit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_accumulate_until_the_limit_and_then_stay_exceeded() {
        let mut budget = TraceBudget::new(1_000, StepRecording::default());
        assert!(budget.charge(600));
        assert!(budget.charge(400), "exactly the limit still fits");
        assert!(!budget.exceeded());
        assert!(!budget.charge(1));
        assert!(budget.exceeded());
        assert!(!budget.charge(0), "once exceeded, nothing fits");
        assert_eq!(budget.used(), 1_001);
    }

    #[test]
    fn charging_saturates_instead_of_overflowing() {
        let mut budget = TraceBudget::new(usize::MAX, StepRecording::default());
        assert!(budget.charge(usize::MAX));
        assert!(
            budget.charge(usize::MAX),
            "saturated at the limit, not past it"
        );
    }
}
