//! Load benchmark: the built `astro-service` binary on the embedded store,
//! driven over loopback by concurrent native gRPC callers from this process.
//!
//! `cargo bench -p astro-service --bench grpc_load` (or `make bench`).
//! Environment: `BENCH_RUNS` (default 3), `BENCH_CALLERS` (16),
//! `BENCH_PROSPECTS` (10000), `BENCH_SECONDS` per list run (5),
//! `BENCH_STORE` (`embedded`, or `dynamodb`: a moto server from
//! `.tools/venv`, started here, with a table made by `astro-service table create`).
//!
//! Measures, each run and their median:
//! - CreateProspect throughput and latency while seeding the store;
//! - ListProspects of one 50-card column out of all prospects;
//! - the same list load while 20 logins run (bcrypt must not stall it);
//! - resident memory of the idle server, at start and after the load;
//! - ExportProspects of every card: rows per second, and how much the
//!   server's resident memory grows while the file streams;
//! - on the embedded store, `astro-service backup` of the serving store
//!   and `astro-service restore` of the copy.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use astro_authorizer::{Role, TokenIssuer, TokenSecret};
use astro_proto::v1::{
    Budget, Consent, CreateProspectRequest, ExportProspectsRequest, ListProspectsRequest, LoginRequest, Prospect,
    ProspectStatus, Source, auth_service_client::AuthServiceClient, prospect_service_client::ProspectServiceClient,
};
use astro_testkit::bench::{Figures, figures, median, median_figures};
use tonic::{Request, transport::Channel};

const SECRET: &str = "bench-secret-bench-secret-bench-secret-42";
const ADMIN: &str = "admin@example.com";
const PASSWORD: &str = "bench admin password";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// With `BENCH_STORE=dynamodb`: the environment that points the service at
/// a fresh table on the bench's moto server.
fn dynamodb_store() -> Vec<(String, String)> {
    if std::env::var("BENCH_STORE").as_deref() != Ok("dynamodb") {
        return Vec::new();
    }
    let mut env: Vec<(String, String)> = vec![
        ("ASTRO_STORE".to_owned(), "dynamodb".to_owned()),
        ("ASTRO_DYNAMODB_TABLE".to_owned(), astro_testkit::moto::table_name()),
    ];
    env.extend(astro_testkit::moto::aws_env().into_iter().map(|(k, v)| (k.to_owned(), v)));
    let created =
        Command::new(env!("CARGO_BIN_EXE_astro-service")).args(["table", "create"]).envs(env.clone()).output().unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    env
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store_env = dynamodb_store();
        let mut child = Command::new(env!("CARGO_BIN_EXE_astro-service"))
            .envs(store_env)
            .env("ASTRO_GRPC_ADDR", "127.0.0.1:0")
            .env("ASTRO_DATA_DIR", dir.path())
            .env("ASTRO_JWT_SECRET", SECRET)
            .env("ASTRO_ADMIN_EMAIL", ADMIN)
            .env("ASTRO_ADMIN_PASSWORD", PASSWORD)
            .env("ASTRO_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start astro-service (built by cargo bench)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("serving native gRPC") {
                    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
                    let _ = tx.send(json["addr"].as_str().unwrap().parse::<SocketAddr>().unwrap());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(60)).expect("the service starts");
        Server { child, addr, _dir: dir }
    }

    fn rss_mib(&self) -> f64 {
        rss_mib(self.child.id())
    }
}

/// A process's resident memory (`VmRSS`), in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// `astro-service backup` of the running server's data directory, then
/// `astro-service restore` of that copy into an empty one: their seconds.
fn backup_and_restore(data: &std::path::Path) -> (f64, f64) {
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("backup.sqlite3");
    let timed = |dir: &std::path::Path, command: &str| {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_astro-service"))
            .args([command, copy.to_str().unwrap()])
            .env("ASTRO_DATA_DIR", dir)
            .env("ASTRO_JWT_SECRET", SECRET)
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
        start.elapsed().as_secs_f64()
    };
    (timed(data, "backup"), timed(&scratch.path().join("restored"), "restore"))
}

/// What an export of every card cost.
struct ExportFigures {
    seconds: f64,
    rows: i64,
    bytes: usize,
    rss_before: f64,
    rss_peak: f64,
}

/// Exports every card as CSV, reading the stream as it comes, while the
/// server's resident memory is sampled every 10 ms.
async fn export_run(client: &mut Client, pid: u32) -> ExportFigures {
    let rss_before = rss_mib(pid);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = tokio::spawn({
        let done = done.clone();
        async move {
            let mut peak: f64 = 0.0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mib(pid));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak
        }
    });
    let start = Instant::now();
    let mut stream = client.export_prospects(ExportProspectsRequest::default()).await.unwrap().into_inner();
    let (mut rows, mut bytes) = (0, 0);
    while let Some(chunk) = stream.message().await.unwrap() {
        rows = chunk.rows;
        bytes += chunk.data.len();
    }
    let seconds = start.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let rss_peak = sampler.await.unwrap();
    ExportFigures { seconds, rows, bytes, rss_before, rss_peak }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Client = ProspectServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

#[derive(Clone)]
struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

async fn clients(addr: SocketAddr, n: usize) -> Vec<Client> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let secret = TokenSecret::new(SECRET.as_bytes().to_vec()).unwrap();
    let (token, _) = TokenIssuer::new(&secret).issue(ADMIN, Role::Admin, now).unwrap();
    let bearer = Bearer(format!("Bearer {token}").parse().unwrap());
    let mut out = Vec::new();
    for _ in 0..n {
        // One connection per caller, like a load generator's connections.
        let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
        out.push(ProspectServiceClient::with_interceptor(channel, bearer.clone()));
    }
    out
}

fn prospect(i: usize) -> Prospect {
    Prospect {
        first_name: format!("First{i}"),
        last_name: "Prospect".into(),
        email: format!("prospect{i}@example.com"),
        phone: "+33 6 12 34 56 78".into(),
        company: "Example SAS".into(),
        job_title: "Head of Sales".into(),
        message: "We would like to qualify our inbound leads faster and with less manual work.".into(),
        budget: Budget::Budget5kTo20k as i32,
        consent: Some(Consent { given: true, ..Default::default() }),
        source: Some(Source { utm_source: "newsletter".into(), utm_medium: "email".into(), ..Default::default() }),
        ..Default::default()
    }
}

/// Every caller's latencies.
async fn gather(tasks: Vec<tokio::task::JoinHandle<Vec<Duration>>>) -> Vec<Duration> {
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

async fn create_run(clients: &[Client], total: usize, offset: usize) -> Figures {
    let per = total / clients.len();
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(c, client)| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per);
                for i in 0..per {
                    let request = CreateProspectRequest {
                        prospect: Some(prospect(offset + c * per + i)),
                        request_id: String::new(),
                    };
                    let t = Instant::now();
                    client.create_prospect(request).await.expect("create");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    figures(gather(tasks).await, start.elapsed())
}

async fn list_run(clients: &[Client], seconds: u64) -> Figures {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .map(|client| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let page = client
                        .list_prospects(ListProspectsRequest {
                            page_size: 50,
                            status: ProspectStatus::New as i32,
                            ..Default::default()
                        })
                        .await
                        .expect("list")
                        .into_inner();
                    latencies.push(t.elapsed());
                    assert_eq!(page.prospects.len(), 50);
                }
                latencies
            })
        })
        .collect();
    figures(gather(tasks).await, start.elapsed())
}

async fn logins(addr: SocketAddr, n: usize) -> Duration {
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let mut auth = AuthServiceClient::new(channel.clone());
            tokio::spawn(async move {
                auth.login(LoginRequest { email: ADMIN.into(), password: PASSWORD.into(), ..Default::default() })
                    .await
                    .expect("login");
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    start.elapsed()
}

fn print(name: &str, f: Figures) {
    println!("  {name:<34} {:>9.0}/s   p50 {:>6.2} ms   p99 {:>6.2} ms", f.per_second, f.p50_ms, f.p99_ms);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let runs = env("BENCH_RUNS", 3);
        let callers = env("BENCH_CALLERS", 16);
        let total = env("BENCH_PROSPECTS", 10_000);
        let seconds = env("BENCH_SECONDS", 5) as u64;
        let store = std::env::var("BENCH_STORE").unwrap_or_else(|_| "embedded".into());
        println!(
            "grpc_load: {runs} runs, {callers} callers, {total} prospects, {store} store, native gRPC over loopback"
        );

        let mut results: Vec<[Figures; 3]> = Vec::new();
        let mut idle = Vec::new();
        let mut loaded = Vec::new();
        let mut exports: Vec<ExportFigures> = Vec::new();
        let mut copies: Vec<(f64, f64)> = Vec::new();
        for run in 1..=runs {
            let server = Server::start();
            tokio::time::sleep(Duration::from_millis(300)).await;
            idle.push(server.rss_mib());
            let clients = clients(server.addr, callers).await;
            let create = create_run(&clients, total, 0).await;
            let list = list_run(&clients, seconds).await;
            let (list_during_logins, login_time) = tokio::join!(list_run(&clients, seconds), async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                logins(server.addr, 20).await
            });
            let mut exporter = clients[0].clone();
            drop(clients);
            tokio::time::sleep(Duration::from_millis(500)).await;
            loaded.push(server.rss_mib());
            let export = export_run(&mut exporter, server.child.id()).await;
            println!(
                "  ExportProspects (every card)   {:>9.0} rows/s  {} rows, {:.1} MB in {:.2} s; RSS {:.1} MiB before, peak {:.1} MiB during",
                export.rows as f64 / export.seconds,
                export.rows,
                export.bytes as f64 / 1e6,
                export.seconds,
                export.rss_before,
                export.rss_peak
            );
            exports.push(export);
            if store == "embedded" {
                let (backup, restore) = backup_and_restore(server._dir.path());
                println!("  backup while serving {backup:.2} s, restore {restore:.2} s ({total} prospects)");
                copies.push((backup, restore));
            }
            println!("run {run}: (20 logins took {:.2} s)", login_time.as_secs_f64());
            print("CreateProspect", create);
            print("ListProspects (50-card column)", list);
            print("ListProspects during 20 logins", list_during_logins);
            results.push([create, list, list_during_logins]);
        }

        println!("median of {runs} runs:");
        let names = ["CreateProspect", "ListProspects (50-card column)", "ListProspects during 20 logins"];
        for (i, name) in names.iter().enumerate() {
            print(name, median_figures(&results.iter().map(|r| r[i]).collect::<Vec<_>>()));
        }
        println!("  idle RSS at start {:.1} MiB, after the load {:.1} MiB", median(&mut idle), median(&mut loaded));
        let mut rate: Vec<f64> = exports.iter().map(|e| e.rows as f64 / e.seconds).collect();
        let mut growth: Vec<f64> = exports.iter().map(|e| e.rss_peak - e.rss_before).collect();
        println!(
            "  ExportProspects of every card: {:.0} rows/s; RSS grew by {:.1} MiB at most while it ran",
            median(&mut rate),
            median(&mut growth)
        );
        if !copies.is_empty() {
            let (mut backups, mut restores): (Vec<f64>, Vec<f64>) = copies.into_iter().unzip();
            println!(
                "  backup of {total} prospects while serving {:.2} s, restore {:.2} s",
                median(&mut backups),
                median(&mut restores)
            );
        }
    });
}
