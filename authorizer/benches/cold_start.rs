//! The authorizer Lambda's cold start (`cargo bench -p astro-authorizer
//! --bench cold_start`): the built binary spawned on a local Lambda Runtime
//! API, its secret read from moto's Secrets Manager, timed from the spawn to
//! its first `invocation/next` (init done, ready for an event), with its
//! resident memory then. Median of 15 starts; the binary's size beside.
//! `ASTRO_AUTHORIZER_BIN` measures another build of it (`make lambda`'s).

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use astro_testkit::{
    bench::median,
    lambda::{RuntimeApi, function_env},
};

const STARTS: usize = 15;

/// A process's `VmRSS`, `VmHWM` (peak) and `RssAnon` (heap, stacks: the
/// rest are the binary's and the libraries' pages), in MiB.
fn memory(pid: u32) -> (f64, f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"), field("RssAnon:"))
}

fn main() {
    let binary =
        std::env::var("ASTRO_AUTHORIZER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_astro-authorizer").to_owned());
    let id = format!("astro-qualif/jwt-secret-cold-{}", std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = astro_testkit::moto::secrets_client(None);
        client.create_secret().name(&id).secret_string("cold-start-secret-cold-start-secret-01").send().await.unwrap();
    });
    let (mut init, mut rss, mut peak, mut anon) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..STARTS {
        let api = RuntimeApi::start(Vec::new());
        let started = Instant::now();
        let mut child = Command::new(&binary)
            .env_clear()
            .envs(function_env(&api, "astro-authorizer"))
            .envs(astro_testkit::moto::aws_env())
            .env("ASTRO_JWT_SECRET_ID", &id)
            .env("ASTRO_DYNAMODB_TABLE", "cold-start")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ready = api.ready(Duration::from_secs(30)).expect("the function asks for an event");
        init.push(ready.duration_since(started).as_secs_f64() * 1000.0);
        let (now, high, heap) = memory(child.id());
        rss.push(now);
        peak.push(high);
        anon.push(heap);
        let _ = child.kill();
        let _ = child.wait();
    }
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0;
    println!(
        "authorizer cold start, median of {STARTS}: init {:.1} ms (spawn → ready), VmRSS {:.1} MiB (peak {:.1}, anonymous {:.1}); {binary}: {size:.1} MiB",
        median(&mut init),
        median(&mut rss),
        median(&mut peak),
        median(&mut anon)
    );
}
