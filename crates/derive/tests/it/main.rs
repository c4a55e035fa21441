//! Integration tests of the derivation pipeline over an in-memory L1 and a real DA server.

mod common;
mod happy;
mod invalid;
mod restart;
mod windows;
