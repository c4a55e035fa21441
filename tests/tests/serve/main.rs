//! Whole-system tests of the inference server: `openledger serve` driven by the official
//! `openai` Python client, and the same API inside `openledger node`.

mod in_node;
mod openai_client;
