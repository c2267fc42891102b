//! Compiles `astro/**/*.proto` without a system `protoc` (protox), generates the
//! prost messages and tonic stubs, and — from the `astro.storage.v1.entity`
//! options — the storage layout (see `codegen/storage.rs`) and, from the
//! `astro.access.v1.rule` options, the permission table (`codegen/access.rs`).

#[path = "codegen/access.rs"]
mod access;
#[path = "codegen/storage.rs"]
mod storage;

use std::{env, fs, path::PathBuf};

use prost::Message as _;

const PROTO_FILES: &[&str] = &[
    "astro/v1/prospect.proto",
    "astro/v1/auth.proto",
    "astro/v1/member.proto",
    "astro/v1/scoring.proto",
    "astro/v1/insights.proto",
    "astro/v1/privacy.proto",
    "astro/v1/import.proto",
    "astro/v1/form.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=astro");
    println!("cargo:rerun-if-changed=codegen");
    let out = PathBuf::from(env::var("OUT_DIR")?);

    let mut compiler = protox::Compiler::new(["."])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTO_FILES)?;

    // Options are read from the descriptor pool: a prost_types round trip would
    // drop the extension values.
    let pool = compiler.descriptor_pool();
    fs::write(out.join("astro_storage.rs"), storage::generate(&pool)?)?;
    fs::write(out.join("astro_access.rs"), access::generate(&pool)?)?;
    let table = storage::table_definitions(&pool)?;
    fs::write(out.join("table.json"), table.json)?;
    fs::write(out.join("table.yaml"), table.yaml)?;
    fs::write(out.join("ttl.json"), table.ttl)?;

    // The full set (with imports) serves gRPC server reflection.
    let encoded = compiler.encode_file_descriptor_set();
    fs::write(out.join("astro_descriptor.bin"), &encoded)?;

    // Well-known types map onto prost-types; the options package is generated
    // too but only the build reads it.
    let fds = prost_types::FileDescriptorSet::decode(encoded.as_slice())?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(fds)?;
    Ok(())
}
