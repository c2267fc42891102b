//! The proof of concept's function's cold start (`cargo bench -p
//! astro-gateway --bench cold_start`): the built `astro-gateway` on a local
//! Lambda Runtime API, with its service in the process on DynamoDB (moto's
//! table) and its token secret from moto's Secrets Manager, timed from the
//! spawn to its first `invocation/next`, with its resident memory then.
//! Median of 15 starts. `ASTRO_GATEWAY_BIN` measures another build of it.

use astro_testkit::lambda::{cold_start, function};

fn main() {
    let binary = std::env::var("ASTRO_GATEWAY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_astro-gateway").to_owned());
    let secret = format!("astro-qualif/jwt-secret-poc-cold-{}", std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let table = runtime.block_on(async {
        let secrets = astro_testkit::moto::secrets_client(None);
        secrets
            .create_secret()
            .name(&secret)
            .secret_string("cold-start-secret-cold-start-secret-02")
            .send()
            .await
            .unwrap();
        let client = astro_testkit::moto::dynamodb_client(None);
        let table = astro_testkit::moto::table_name();
        astro_service::store::dynamodb::create_table(&client, &table).await.unwrap();
        table
    });
    let dir = tempfile::tempdir().unwrap();
    let started = cold_start(15, |api| {
        let mut command = function(&binary, api, "astro-poc");
        command
            .env("ASTRO_STORE", "dynamodb")
            .env("ASTRO_DYNAMODB_TABLE", &table)
            .env("ASTRO_JWT_SECRET_ID", &secret)
            .env("ASTRO_CAPTCHA_SECRET", "cold-start-pow-key")
            .env("ASTRO_GRPC_ADDR", "127.0.0.1:0")
            .env("ASTRO_DATA_DIR", dir.path())
            .env("ASTRO_LOG_FORMAT", "json");
        command
    });
    started.report("POC function", &binary);
}
