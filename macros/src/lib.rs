//! Attribute macros of [capscope](https://docs.rs/capscope): `#[requires_caps(...)]` and
//! `#[drop_caps_after]`. Use them through `capscope`, which re-exports them.

#![deny(missing_docs)]

mod caps;
