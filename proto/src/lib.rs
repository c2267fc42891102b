//! The Astro Qualif contract.
//!
//! Everything here is generated from `proto/astro/**/*.proto` at build time:
//! the messages and gRPC stubs (`v1`), the encoded descriptors served by gRPC
//! reflection, and the single-table storage layout (`storage`) declared by the
//! `astro.storage.v1.entity` options, and the permission table (`access`)
//! declared by the `astro.access.v1.rule` options. Hand-written code in this crate only
//! supports the generated code; it never restates a key format or an index.

/// Messages, enums and gRPC stubs of package `astro.v1`.
#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("astro.v1");
}

pub mod access;
pub mod storage;

/// Encoded `FileDescriptorSet` of the contract and its imports, for gRPC
/// server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/astro_descriptor.bin"));
