//! The Astro Qualif prospect service.
//!
//! `api` (gRPC transport) → `domain` (rules) → `store` (adapters). [`start`]
//! wires them and serves native gRPC (HTTP/2, with reflection and health) and
//! gRPC-web (HTTP/1.1) on one listener.

pub mod api;
pub mod background;
pub mod captcha;
pub mod config;
pub mod domain;
pub mod keys;
pub mod notify;
pub mod process;
pub mod secrets;
pub mod server;
pub mod store;
pub mod telemetry;

pub use server::{RunningService, start, start_with_clock, start_with_store};
