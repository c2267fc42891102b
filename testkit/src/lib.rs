//! What several crates' tests and benchmarks share, written once: a moto
//! server (DynamoDB and Secrets Manager) with clients on it, an SMTP sink,
//! a local Lambda Runtime API, and the figures of a load run. A dev-dependency only: nothing here ships.

pub mod bench;
pub mod lambda;
pub mod moto;
pub mod smtp;
pub mod totp;
