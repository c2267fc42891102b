//! The authorizer Lambda's cold start (`cargo bench -p astro-authorizer
//! --bench cold_start`): the built binary spawned on a local Lambda Runtime
//! API, its secret read from moto's Secrets Manager, timed from the spawn to
//! its first `invocation/next` (init done, ready for an event), with its
//! resident memory then. Median of 15 starts; the binary's size beside.
//! `ASTRO_AUTHORIZER_BIN` measures another build of it (`make lambda`'s).

use astro_testkit::lambda::{cold_start, function};

fn main() {
    let binary =
        std::env::var("ASTRO_AUTHORIZER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_astro-authorizer").to_owned());
    let id = format!("astro-qualif/jwt-secret-cold-{}", std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = astro_testkit::moto::secrets_client(None);
        client.create_secret().name(&id).secret_string("cold-start-secret-cold-start-secret-01").send().await.unwrap();
    });
    let started = cold_start(15, |api| {
        let mut command = function(&binary, api, "astro-authorizer");
        command.env("ASTRO_JWT_SECRET_ID", &id).env("ASTRO_DYNAMODB_TABLE", "cold-start");
        command
    });
    started.report("authorizer", &binary);
}
