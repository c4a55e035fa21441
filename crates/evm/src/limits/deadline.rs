//! Stopping a call at a wall-clock deadline (`--rpc.evmtimeout`, a trace's `timeout`).
//!
//! revm has no cancellation flag, so the deadline rides along as an inspector: every few
//! thousand instructions, and at the start of every call frame, it reads the clock; once the
//! deadline has passed it halts every frame at its next instruction (out of gas), so the whole
//! call stack unwinds at once and the thread is free again. A precompile runs as one step the
//! inspector cannot interrupt, so a precompile call is admitted only if it can finish in time:
//! BLAKE2F, the one precompile whose price lets a single call run for most of a second (one gas
//! per round), is timed against a once-measured cost per round; the others are priced well
//! enough that checking the clock before each of them bounds the overshoot to microseconds.
//! The caller learns from [`Deadline::expired`] that the halt was ours.

use alloy_primitives::{Address, address};
use revm::{
    context_interface::ContextTr,
    inspector::Inspector,
    interpreter::{CallInputs, CallOutcome, CreateInputs, CreateOutcome, Interpreter},
};
use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

/// Instructions between two reads of the clock: reading it costs more than most instructions.
const CHECK_EVERY: u32 = 4096;

/// The BLAKE2F precompile (EIP-152).
const BLAKE2F: Address = address!("0x0000000000000000000000000000000000000009");

/// BLAKE2F's input: 4 bytes of rounds, then the state, message, offsets and flag.
const BLAKE2F_INPUT_LEN: usize = 213;

/// An inspector that halts execution once `at` has passed.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Option<Instant>,
    countdown: u32,
    expired: bool,
}

impl Deadline {
    /// Halts execution after `at`; `None` never does.
    pub const fn new(at: Option<Instant>) -> Self {
        Self {
            at,
            countdown: CHECK_EVERY,
            expired: false,
        }
    }

    /// The instant execution stops at, if any.
    pub const fn at(&self) -> Option<Instant> {
        self.at
    }

    /// Whether execution was halted because the deadline passed (or a precompile call could
    /// not have finished before it).
    pub const fn expired(&self) -> bool {
        self.expired
    }

    /// The instruction-count check: reads the clock every [`CHECK_EVERY`] calls.
    fn check(&mut self) -> bool {
        if self.at.is_none() {
            return false;
        }
        if self.expired {
            return true;
        }
        self.countdown -= 1;
        if self.countdown > 0 {
            return false;
        }
        self.countdown = CHECK_EVERY;
        self.check_now()
    }

    /// Reads the clock now.
    fn check_now(&mut self) -> bool {
        let Some(at) = self.at else { return false };
        self.expired = self.expired || Instant::now() >= at;
        self.expired
    }

    /// Whether a call frame may start: the deadline has not passed, and a precompile call it
    /// starts can finish before it.
    fn admit_call(&mut self, target: Address, input: &[u8]) -> bool {
        let Some(at) = self.at else { return true };
        if self.check_now() {
            return false;
        }
        if target == BLAKE2F && input.len() == BLAKE2F_INPUT_LEN {
            let rounds = u32::from_be_bytes([input[0], input[1], input[2], input[3]]);
            let needed = blake2f_round_cost().saturating_mul(rounds);
            if Instant::now() + needed > at {
                self.expired = true;
                return false;
            }
        }
        true
    }
}

/// The time one BLAKE2F round takes on this machine, measured once (a few milliseconds) by
/// running the precompile itself, so the estimate follows the CPU the node runs on.
fn blake2f_round_cost() -> Duration {
    static COST: OnceLock<Duration> = OnceLock::new();
    *COST.get_or_init(|| {
        const ROUNDS: u32 = 200_000;
        let mut input = [0u8; BLAKE2F_INPUT_LEN];
        input[..4].copy_from_slice(&ROUNDS.to_be_bytes());
        // The fastest of a few runs: a run slowed by the scheduler would overstate the cost.
        let best = (0..3)
            .map(|_| {
                let started = Instant::now();
                let _ = revm::precompile::blake2::run(&input, u64::from(ROUNDS));
                started.elapsed()
            })
            .min()
            .unwrap_or_default();
        (best / ROUNDS).max(Duration::from_nanos(1))
    })
}

impl<CTX: ContextTr> Inspector<CTX> for Deadline {
    fn step(&mut self, interp: &mut Interpreter, _context: &mut CTX) {
        if self.check() {
            interp.halt_oog();
        }
    }

    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let admitted = {
            let input = inputs.input.as_bytes(context);
            self.admit_call(inputs.bytecode_address, &input)
        };
        (!admitted)
            .then(|| CallOutcome::new_oog(inputs.gas_limit, inputs.return_memory_offset.clone()))
    }

    fn create(&mut self, _context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.check_now()
            .then(|| CreateOutcome::new_oog(inputs.gas_limit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_deadline_nothing_expires() {
        let mut deadline = Deadline::new(None);
        assert!((0..10 * CHECK_EVERY).all(|_| !deadline.check()));
        assert!(deadline.admit_call(BLAKE2F, &[0xff; BLAKE2F_INPUT_LEN]));
        assert!(!deadline.expired());
    }

    #[test]
    fn a_past_deadline_expires_within_one_check_interval_and_stays_expired() {
        let mut deadline = Deadline::new(Some(Instant::now() - Duration::from_millis(1)));
        let steps = (1..=CHECK_EVERY).find(|_| deadline.check());
        assert_eq!(steps, Some(CHECK_EVERY));
        assert!(deadline.expired());
        assert!(deadline.check(), "every later step halts too");
    }

    #[test]
    fn a_past_deadline_refuses_the_next_call_frame_at_once() {
        let mut deadline = Deadline::new(Some(Instant::now() - Duration::from_millis(1)));
        assert!(!deadline.admit_call(Address::ZERO, &[]));
        assert!(deadline.expired());
    }

    #[test]
    fn a_future_deadline_does_not_expire_early() {
        let mut deadline = Deadline::new(Some(Instant::now() + Duration::from_secs(3600)));
        assert!((0..3 * CHECK_EVERY).all(|_| !deadline.check()));
        assert!(deadline.admit_call(Address::ZERO, &[]));
    }

    #[test]
    fn a_blake2f_call_that_cannot_finish_in_time_is_refused_and_a_short_one_runs() {
        let mut deadline = Deadline::new(Some(Instant::now() + Duration::from_millis(200)));
        let mut input = [0u8; BLAKE2F_INPUT_LEN];
        input[..4].copy_from_slice(&12u32.to_be_bytes());
        assert!(
            deadline.admit_call(BLAKE2F, &input),
            "12 rounds take microseconds"
        );
        input[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(
            !deadline.admit_call(BLAKE2F, &input),
            "4.3 billion rounds take far longer than 200 ms"
        );
        assert!(deadline.expired());
    }
}
