//! Stopping a call at a wall-clock deadline (`--rpc.evmtimeout`).
//!
//! revm has no cancellation flag, so the deadline rides along as an inspector: every few
//! thousand instructions it reads the clock, and once the deadline has passed it halts every
//! frame at its next instruction (out of gas), so the whole call stack unwinds at once and the
//! thread is free again. The caller learns from [`Deadline::expired`] that the halt was ours.

use revm::{
    inspector::Inspector,
    interpreter::{Interpreter, interpreter::EthInterpreter},
};
use std::time::Instant;

/// Instructions between two reads of the clock: reading it costs more than most instructions.
const CHECK_EVERY: u32 = 4096;

/// An inspector that halts execution once `at` has passed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    countdown: u32,
    expired: bool,
}

impl Deadline {
    /// Halts execution after `at`; `None` never does.
    pub(crate) const fn new(at: Option<Instant>) -> Self {
        Self {
            at,
            countdown: CHECK_EVERY,
            expired: false,
        }
    }

    /// Whether execution was halted because the deadline passed.
    pub(crate) const fn expired(&self) -> bool {
        self.expired
    }

    fn check(&mut self) -> bool {
        let Some(at) = self.at else { return false };
        if self.expired {
            return true;
        }
        self.countdown -= 1;
        if self.countdown > 0 {
            return false;
        }
        self.countdown = CHECK_EVERY;
        self.expired = Instant::now() >= at;
        self.expired
    }
}

impl<CTX> Inspector<CTX, EthInterpreter> for Deadline {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        if self.check() {
            interp.halt_oog();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn without_a_deadline_nothing_expires() {
        let mut deadline = Deadline::new(None);
        assert!((0..10 * CHECK_EVERY).all(|_| !deadline.check()));
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
    fn a_future_deadline_does_not_expire_early() {
        let mut deadline = Deadline::new(Some(Instant::now() + Duration::from_secs(3600)));
        assert!((0..3 * CHECK_EVERY).all(|_| !deadline.check()));
    }
}
