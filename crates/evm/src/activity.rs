//! The inspector block building runs with: it records what each transaction touched (every
//! call frame's caller and target, created contracts, self-destruct beneficiaries) for the
//! address index. It only hooks frames, never single steps, so its cost is per call, not per
//! instruction.

use alloy_primitives::{Address, U256};
use ol_primitives::{Creation, TxActivity};
use revm::{
    Inspector,
    interpreter::{CallInputs, CallOutcome, CreateInputs, CreateOutcome},
};

/// Collects one transaction's [`TxActivity`]; [`ActivityInspector::take`] hands it over and
/// starts the next.
#[derive(Debug, Clone, Default)]
pub struct ActivityInspector {
    activity: TxActivity,
    /// For each open frame, how many creations were recorded before it started: a frame
    /// that fails takes its creations (and those of its children) with it.
    frame_starts: Vec<usize>,
}

impl ActivityInspector {
    /// The activity recorded since the last call, leaving the inspector empty.
    pub fn take(&mut self) -> TxActivity {
        self.frame_starts.clear();
        std::mem::take(&mut self.activity)
    }

    fn frame_ended(&mut self, ok: bool) {
        let start = self.frame_starts.pop().unwrap_or(0);
        if !ok {
            self.activity.created.truncate(start);
        }
    }
}

impl<CTX> Inspector<CTX> for ActivityInspector {
    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.frame_starts.push(self.activity.created.len());
        let touched = &mut self.activity.touched;
        touched.insert(inputs.caller);
        touched.insert(inputs.target_address);
        // A DELEGATECALL or CALLCODE runs another account's code: that account is involved.
        touched.insert(inputs.bytecode_address);
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        self.frame_ended(outcome.result.is_ok());
    }

    fn create(&mut self, _context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.frame_starts.push(self.activity.created.len());
        self.activity.touched.insert(inputs.caller());
        None
    }

    fn create_end(
        &mut self,
        _context: &mut CTX,
        inputs: &CreateInputs,
        outcome: &mut CreateOutcome,
    ) {
        let ok = outcome.result.is_ok();
        self.frame_ended(ok);
        if let (true, Some(contract)) = (ok, outcome.address) {
            self.activity.touched.insert(contract);
            self.activity.created.push(Creation {
                contract,
                creator: inputs.caller(),
            });
        }
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, _value: U256) {
        self.activity.touched.insert(contract);
        self.activity.touched.insert(target);
    }
}
