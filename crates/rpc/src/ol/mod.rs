//! The `ol` namespace: the node's Proof of Attribution services over JSON-RPC.
//!
//! Today it serves the content store of contributions ([`content`]): `ol_putContent`,
//! `ol_getContent` and `ol_contentDomain`. Errors follow geth's JSON-RPC style: a code, a
//! message that says what was refused, and nothing changed; the codes of the namespace are
//! listed in [`codes`].

pub mod codes;
mod content;

pub use content::{
    ContentAnswer, ContentDomain, ContentInfo, ContentRpc, OlApiServer, PutContentRequest,
    ReadAuthorization,
};
