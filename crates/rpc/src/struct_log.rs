//! geth's struct-logger output rendered to JSON without a copy of the storage map per step.
//!
//! geth's format repeats, at every `SLOAD` and `SSTORE`, every slot the current contract has
//! touched so far. `revm-inspectors` builds that by cloning the contract's map into each such
//! step, so a loop over many slots holds steps × slots entries before a byte is sent. Here the
//! frame is built without storage, and the storage maps are written into the JSON while it is
//! rendered, from one running map per contract, in the order geth's builder walks the steps.
//! Rendering happens on the RPC's worker thread, so a large trace never occupies the async
//! threads either.

use alloy_primitives::{Address, B256, Bytes};
use alloy_rpc_types_trace::geth::{DefaultFrame, GethDefaultTracingOptions, StructLog};
use revm::bytecode::opcode;
use revm_inspectors::tracing::{
    TracingInspector,
    types::{CallTraceNode, CallTraceStep},
};
use serde::{Serialize, Serializer, ser::SerializeMap, ser::SerializeSeq};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};

/// What one step does to the storage shown in the trace.
#[derive(Debug, Clone, Copy)]
struct StepStorage {
    /// The contract whose storage the step sees.
    contract: Address,
    /// The slot it read or wrote, with the value after the step.
    change: Option<(B256, B256)>,
    /// Whether geth shows the storage at this step (`SLOAD`, `SSTORE`).
    shown: bool,
}

/// Renders the struct-logger trace of one execution, as geth's builder would, with
/// `config`'s options. `gas_used` and `output` are the execution's.
pub(crate) fn render(
    tracer: &mut TracingInspector,
    config: GethDefaultTracingOptions,
    gas_limit: u64,
    caller: Address,
    gas_used: u64,
    output: Bytes,
) -> Result<Box<RawValue>, serde_json::Error> {
    tracer.set_transaction_gas_limit(gas_limit);
    tracer.set_transaction_caller(caller);
    let without_storage = GethDefaultTracingOptions {
        disable_storage: Some(true),
        ..config
    };
    let mut frame = tracer
        .geth_builder()
        .geth_traces(gas_used, output, without_storage);
    if !config.is_storage_enabled() {
        return serde_json::value::to_raw_value(&frame);
    }
    let steps = storage_steps(tracer.traces().nodes());
    let logs = std::mem::take(&mut frame.struct_logs);
    if logs.len() != steps.len() {
        // Not the walk the builder made: render the builder's own way rather than guess.
        return serde_json::value::to_raw_value(&builder_frame(tracer, config, &frame));
    }
    let head = match serde_json::to_value(&frame)? {
        serde_json::Value::Object(mut head) => {
            head.remove("structLogs");
            head
        }
        _ => serde_json::Map::new(),
    };
    serde_json::value::to_raw_value(&Rendered {
        head: &head,
        logs: Logs {
            logs: &logs,
            steps: &steps,
        },
    })
}

/// The frame exactly as `revm-inspectors` builds it, storage maps and all.
fn builder_frame(
    tracer: &TracingInspector,
    config: GethDefaultTracingOptions,
    frame: &DefaultFrame,
) -> DefaultFrame {
    tracer
        .geth_builder()
        .geth_traces(frame.gas, frame.return_value.clone(), config)
}

/// Every step of the trace in the order geth's builder emits them (a call's steps right after
/// the step that made it), with what it does to the storage shown.
fn storage_steps(nodes: &[CallTraceNode]) -> Vec<StepStorage> {
    let Some(root) = nodes.first() else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(nodes.iter().map(|node| node.trace.steps.len()).sum());
    // (node, index of its next step, index of its next child)
    let mut stack: Vec<(&CallTraceNode, usize, usize)> = vec![(root, 0, 0)];
    while let Some((node, step_index, child_index)) = stack.pop() {
        let Some(step) = node.trace.steps.get(step_index) else {
            continue;
        };
        out.push(step_storage(node, step));
        let mut next_child = child_index;
        let child = is_call_like(step)
            .then(|| node.children.get(child_index).and_then(|id| nodes.get(*id)))
            .flatten();
        if child.is_some() {
            next_child += 1;
        }
        stack.push((node, step_index + 1, next_child));
        if let Some(child) = child {
            stack.push((child, 0, 0));
        }
    }
    out
}

fn step_storage(node: &CallTraceNode, step: &CallTraceStep) -> StepStorage {
    let op = step.op.get();
    StepStorage {
        contract: node.execution_address(),
        change: step
            .storage_change
            .as_ref()
            .map(|change| (B256::from(change.key), B256::from(change.value))),
        shown: op == opcode::SLOAD || op == opcode::SSTORE,
    }
}

fn is_call_like(step: &CallTraceStep) -> bool {
    matches!(
        step.op.get(),
        opcode::CALL
            | opcode::CALLCODE
            | opcode::DELEGATECALL
            | opcode::STATICCALL
            | opcode::CREATE
            | opcode::CREATE2
    )
}

/// The frame's other fields, then its struct logs.
struct Rendered<'a> {
    head: &'a serde_json::Map<String, serde_json::Value>,
    logs: Logs<'a>,
}

impl Serialize for Rendered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.head.len() + 1))?;
        for (key, value) in self.head {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("structLogs", &self.logs)?;
        map.end()
    }
}

/// The struct logs, each with the storage map of its contract as of that step where geth
/// shows one; the maps are kept once, updated as the steps go by.
struct Logs<'a> {
    logs: &'a [StructLog],
    steps: &'a [StepStorage],
}

impl Serialize for Logs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut running: HashMap<Address, BTreeMap<B256, B256>> = HashMap::new();
        let mut seq = serializer.serialize_seq(Some(self.logs.len()))?;
        for (log, step) in self.logs.iter().zip(self.steps) {
            let storage = running.entry(step.contract).or_default();
            if let Some((slot, value)) = step.change {
                storage.insert(slot, value);
            }
            seq.serialize_element(&Step {
                log,
                storage: step.shown.then_some(Storage(storage)),
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct Step<'a> {
    #[serde(flatten)]
    log: &'a StructLog,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<Storage<'a>>,
}

/// A storage map as geth writes it: 32-byte hex keys and values.
struct Storage<'a>(&'a BTreeMap<B256, B256>);

impl Serialize for Storage<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (slot, value) in self.0 {
            map.serialize_entry(&format!("{slot:?}"), &format!("{value:?}"))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{TxKind, U256};
    use ol_evm::OlEvmConfig;
    use revm::{
        bytecode::Bytecode,
        context::TxEnv,
        database::{CacheDB, EmptyDB},
        state::AccountInfo,
    };
    use revm_inspectors::tracing::DebugInspector;

    const OUTER: Address = Address::repeat_byte(0xaa);
    const INNER: Address = Address::repeat_byte(0xbb);
    const CALLER: Address = Address::repeat_byte(0x20);

    /// OUTER writes and reads slots around a call into INNER, which writes and reads its own:
    /// storage is shown per contract, growing as slots are touched, across a nested frame.
    fn state() -> CacheDB<EmptyDB> {
        let mut outer = vec![0x60, 0x01, 0x60, 0x01, 0x55, 0x60, 0x01, 0x54, 0x50];
        outer.extend_from_slice(&[0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x73]);
        outer.extend_from_slice(INNER.as_slice());
        outer.extend_from_slice(&[0x5a, 0xf1, 0x50]);
        outer.extend_from_slice(&[0x60, 0x02, 0x60, 0x02, 0x55, 0x60, 0x01, 0x54, 0x50, 0x00]);
        let inner = vec![0x60, 0x07, 0x60, 0x03, 0x55, 0x60, 0x03, 0x54, 0x50, 0x00];
        let mut db = CacheDB::new(EmptyDB::default());
        for (address, code) in [(OUTER, outer), (INNER, inner)] {
            let code = Bytecode::new_raw(code.into());
            db.insert_account_info(
                address,
                AccountInfo {
                    code_hash: code.hash_slow(),
                    code: Some(code),
                    ..Default::default()
                },
            );
        }
        db.insert_account_info(
            CALLER,
            AccountInfo {
                balance: U256::from(10u128.pow(20)),
                ..Default::default()
            },
        );
        db
    }

    /// The trace of the call as `revm-inspectors` renders it, and as [`render`] does.
    fn both(options: GethDefaultTracingOptions) -> (serde_json::Value, serde_json::Value) {
        let spec = ol_primitives::dev::dev_chain_spec(None, 0).unwrap();
        let config = OlEvmConfig::new(&spec);
        let env = config.evm_env(1, 1, Address::ZERO, B256::ZERO, 30_000_000, 0);
        let tx = TxEnv {
            caller: CALLER,
            kind: TxKind::Call(OUTER),
            gas_limit: 1_000_000,
            chain_id: Some(config.chain_id()),
            ..Default::default()
        };
        type Db<'a> = CacheDB<&'a CacheDB<EmptyDB>>;
        let run = |finish: &dyn Fn(
            &mut DebugInspector,
            &ol_evm::Inspected<'_, DebugInspector, Db<'_>>,
        ) -> serde_json::Value| {
            let db = state();
            let opts = alloy_rpc_types_trace::geth::GethDebugTracingOptions {
                config: options,
                ..Default::default()
            };
            let tracer = DebugInspector::new(opts).unwrap();
            config
                .inspect_call(
                    &db,
                    env.clone(),
                    tx.clone(),
                    &Default::default(),
                    tracer,
                    |inspected| {
                        let mut tracer = std::mem::replace(
                            inspected.inspector,
                            DebugInspector::Noop(revm::inspector::NoOpInspector),
                        );
                        finish(&mut tracer, &inspected)
                    },
                )
                .unwrap()
        };
        let reference = run(&|tracer, inspected| {
            let trace = tracer
                .get_result(
                    None,
                    inspected.tx,
                    inspected.block,
                    inspected.result,
                    &mut state(),
                )
                .unwrap();
            serde_json::to_value(trace).unwrap()
        });
        let ours = run(&|tracer, inspected| {
            let DebugInspector::Default(inner, config) = tracer else {
                panic!("the default tracer")
            };
            let json = render(
                inner,
                *config,
                1_000_000,
                CALLER,
                inspected.result.result.tx_gas_used(),
                Bytes::new(),
            )
            .unwrap();
            serde_json::from_str(json.get()).unwrap()
        });
        (reference, ours)
    }

    #[test]
    fn renders_what_the_builder_renders_storage_included() {
        let (reference, ours) = both(GethDefaultTracingOptions::default());
        assert_eq!(ours, reference);
        let logs = ours["structLogs"].as_array().unwrap();
        let shown: Vec<usize> = logs
            .iter()
            .filter_map(|log| log.get("storage")?.as_object().map(|map| map.len()))
            .collect();
        // OUTER: slot 1 at its SSTORE and SLOAD; INNER: slot 3 twice; OUTER again: 1 and 2.
        assert_eq!(shown, [1, 1, 1, 1, 2, 2]);
    }

    #[test]
    fn without_storage_it_is_the_builders_frame() {
        let options = GethDefaultTracingOptions::default().disable_storage();
        let (reference, ours) = both(options);
        assert_eq!(ours, reference);
    }
}
