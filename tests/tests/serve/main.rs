//! Whole-system tests of `openledger serve`, the OpenAI-compatible inference server, driven by
//! the official `openai` Python client.

mod openai_client;
