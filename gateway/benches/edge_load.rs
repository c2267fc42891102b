//! Load benchmark of the edge: the built `astro-gateway` (with its in-process
//! service on the embedded store), driven over loopback from this process.
//!
//! `cargo bench -p astro-gateway --bench edge_load` (or `make bench`).
//! Environment: `BENCH_RUNS` (3), `BENCH_CONNECTIONS` (16), `BENCH_SECONDS`
//! per run (5); `ASTRO_GATEWAY_BIN` to load another build of the gateway.
//!
//! The HTTP paths (REST, gRPC-web) are loaded by `wrk` (one thread, as issue
//! 12 measured them: a generator in C leaves the two cores to the gateway);
//! native gRPC by tonic clients in this process.
//!
//! Measures, each run and their median:
//! - the public `POST /prospects` path (REST → gRPC → store), captcha off and
//!   throttles raised, over `BENCH_CONNECTIONS` HTTP/1.1 connections;
//! - the same creates sent straight to the service's native gRPC, so the
//!   edge's share shows: under the same load, and one call at a time;
//! - the column page (`status=new`, 50 cards and the five counts) on a column
//!   of more than 10,000 cards: over REST and over gRPC-web through the edge,
//!   and over gRPC straight to the service, at `BENCH_CONNECTIONS` and at 1,
//!   each figure printed against its goal (issue 12's pass lines);
//! - the CPU cost of checking one proof-of-work solution, and of one challenge;
//! - the live board: from a submission's 201 to a watcher's change
//!   (`WatchProspects` on native gRPC), one submission at a time;
//! - notifications: from a submission's 201 to a local webhook receiver's
//!   receipt, on a second stack with a webhook configured.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use astro_authorizer::{Role, TokenIssuer, TokenSecret};
use astro_proto::v1::{Consent, CreateProspectRequest, Prospect, prospect_service_client::ProspectServiceClient};
use astro_service::captcha::pow::{self, ProofOfWork};
use astro_testkit::bench::{Figures, figures, median, median_figures, wrk};
use tonic::transport::Channel;

const SECRET: &str = "bench-secret-bench-secret-bench-secret-42";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Stack {
    child: Child,
    http: SocketAddr,
    grpc: SocketAddr,
    dir: tempfile::TempDir,
}

impl Stack {
    fn start() -> Stack {
        Self::start_with(&[])
    }

    fn start_with(extra: &[(&str, &str)]) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        // `ASTRO_GATEWAY_BIN`: another build to measure with the same load
        // (an A/B against an older commit's binary).
        let binary = std::env::var("ASTRO_GATEWAY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_astro-gateway").into());
        let mut child = Command::new(binary)
            .env("ASTRO_HTTP_ADDR", "127.0.0.1:0")
            .env("ASTRO_GRPC_ADDR", "127.0.0.1:0")
            .env("ASTRO_DATA_DIR", dir.path())
            .env("ASTRO_WEB_DIR", dir.path())
            .env("ASTRO_JWT_SECRET", SECRET)
            // The member the bench's admin token speaks for.
            .env("ASTRO_ADMIN_EMAIL", BENCH_ADMIN)
            .env("ASTRO_ADMIN_PASSWORD", "the bench admin's passphrase")
            .env("ASTRO_CAPTCHA", "off")
            .env("ASTRO_THROTTLE_RPS", "1000000")
            .env("ASTRO_THROTTLE_BURST", "1000000")
            .env("ASTRO_PUBLIC_PER_IP_PER_MIN", "100000000")
            .env("ASTRO_LOG_FORMAT", "json")
            .envs(extra.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start astro-gateway (built by cargo bench)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut http, mut grpc) = (None, None);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
                let addr = || json["addr"].as_str().and_then(|a| a.parse::<SocketAddr>().ok());
                let message = json["message"].as_str().unwrap_or_default();
                if message.starts_with("serving native gRPC") {
                    grpc = addr();
                } else if message.starts_with("serving the REST API") {
                    http = addr();
                }
                if let (Some(h), Some(g)) = (http, grpc) {
                    let _ = tx.send((h, g));
                    http = None;
                }
            }
        });
        let (http, grpc) = rx.recv_timeout(Duration::from_secs(60)).expect("the gateway starts");
        Stack { child, http, grpc, dir }
    }
}

impl Stack {
    /// Writes a wrk script into the stack's directory; returns its path.
    fn script(&self, name: &str, text: &str) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn form(i: usize) -> serde_json::Value {
    serde_json::json!({
        "firstName": format!("First{i}"),
        "lastName": "Prospect",
        "email": format!("prospect{i}@example.com"),
        "phone": "+33 6 12 34 56 78",
        "company": "Example SAS",
        "jobTitle": "Head of Sales",
        "message": "We would like to qualify our inbound leads faster and with less manual work.",
        "budget": "5k_to_20k",
        "consent": true,
        "source": {"utmSource": "newsletter", "utmMedium": "email"},
        "captchaToken": "",
    })
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
        budget: astro_proto::v1::Budget::Budget5kTo20k as i32,
        consent: Some(Consent { given: true, ..Default::default() }),
        source: Some(astro_proto::v1::Source {
            utm_source: "newsletter".into(),
            utm_medium: "email".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Runs `connections` callers for `seconds`, each calling `one` in a loop.
async fn drive<F, Fut>(connections: usize, seconds: u64, one: F) -> Figures
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let counter = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for caller in 0..connections {
        let (one, counter) = (one.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                one(caller, i).await;
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    figures(all, start.elapsed())
}

/// The public form over REST, loaded by wrk: every submission a new address.
fn rest_run(stack: &Stack, connections: usize, seconds: u64, offset: usize) -> Figures {
    let url = format!("http://{}/prospects", stack.http);
    wrk(&url, connections, seconds, &[], Some(&stack.script("submit.lua", SUBMIT_LUA)), &[offset.to_string()])
}

/// wrk's requests for the form: `form(i)` with `i` counting from the run's offset.
const SUBMIT_LUA: &str = r#"
local n, base = 0, 0
function init(args) base = tonumber(args[1]) or 0 end
function request()
  n = n + 1
  local i = base + n
  local body = string.format('{"firstName":"First%d","lastName":"Prospect","email":"prospect%d@example.com",'
    .. '"phone":"+33 6 12 34 56 78","company":"Example SAS","jobTitle":"Head of Sales",'
    .. '"message":"We would like to qualify our inbound leads faster and with less manual work.",'
    .. '"budget":"5k_to_20k","consent":true,"source":{"utmSource":"newsletter","utmMedium":"email"},'
    .. '"captchaToken":""}', i, i)
  return wrk.format("POST", "/prospects", {["Content-Type"] = "application/json"}, body)
end
"#;

async fn grpc_run(stack: &Stack, connections: usize, seconds: u64, offset: usize) -> Figures {
    let token = bench_token("bench-service@example.com", Role::Service);
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
    let clients = grpc_clients(stack, connections).await;
    drive(connections, seconds, move |caller, i| {
        let (clients, bearer) = (clients.clone(), bearer.clone());
        async move {
            let mut request = tonic::Request::new(CreateProspectRequest {
                prospect: Some(prospect(offset + i)),
                request_id: String::new(),
            });
            request.metadata_mut().insert("authorization", bearer);
            clients[caller].clone().create_prospect(request).await.unwrap();
        }
    })
    .await
}

/// The stack's bootstrap admin: a member, so its token stands.
const BENCH_ADMIN: &str = "bench@example.com";

/// A token for the bench's calls, signed with the stack's secret.
fn bench_token(email: &str, role: Role) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let secret = TokenSecret::new(SECRET.as_bytes().to_vec()).unwrap();
    TokenIssuer::new(&secret).issue(email, role, now).unwrap().0
}

fn admin_token() -> String {
    bench_token(BENCH_ADMIN, Role::Admin)
}

/// One gRPC channel to the service per caller.
async fn grpc_clients(stack: &Stack, connections: usize) -> Arc<Vec<ProspectServiceClient<Channel>>> {
    let mut clients = Vec::new();
    for _ in 0..connections {
        clients.push(ProspectServiceClient::new(grpc_channel(stack).await));
    }
    Arc::new(clients)
}

async fn grpc_channel(stack: &Stack) -> Channel {
    Channel::from_shared(format!("http://{}", stack.grpc)).unwrap().connect().await.unwrap()
}

/// The New column's first page over REST, `connections` at once (wrk).
fn column_rest_run(stack: &Stack, connections: usize, seconds: u64) -> Figures {
    let url = format!("http://{}/prospects?status=new&pageSize=50", stack.http);
    let bearer = format!("Bearer {}", admin_token());
    wrk(&url, connections, seconds, &[("authorization", &bearer)], None, &[])
}

/// The same page over gRPC-web through the edge (what the board sends), by wrk.
fn column_grpc_web_run(stack: &Stack, connections: usize, seconds: u64) -> Figures {
    use prost::Message as _;
    let url = format!("http://{}/astro.v1.ProspectService/ListProspects", stack.http);
    let bearer = format!("Bearer {}", admin_token());
    let message = astro_proto::v1::ListProspectsRequest {
        status: astro_proto::v1::ProspectStatus::New as i32,
        page_size: 50,
        ..Default::default()
    }
    .encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    // The frame's bytes as Lua decimal escapes.
    let body: String = frame.iter().map(|b| format!("\\{b}")).collect();
    let script = format!(
        "wrk.method = \"POST\"\nwrk.body = \"{body}\"\n\
         wrk.headers[\"content-type\"] = \"application/grpc-web+proto\"\nwrk.headers[\"x-grpc-web\"] = \"1\"\n"
    );
    wrk(&url, connections, seconds, &[("authorization", &bearer)], Some(&stack.script("grpc-web.lua", &script)), &[])
}

/// The same page over native gRPC, straight to the service.
async fn column_grpc_run(stack: &Stack, connections: usize, seconds: u64) -> Figures {
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {}", admin_token()).parse().unwrap();
    let clients = grpc_clients(stack, connections).await;
    drive(connections, seconds, move |caller, _| {
        let (clients, bearer) = (clients.clone(), bearer.clone());
        async move {
            let mut request = tonic::Request::new(astro_proto::v1::ListProspectsRequest {
                status: astro_proto::v1::ProspectStatus::New as i32,
                page_size: 50,
                ..Default::default()
            });
            request.metadata_mut().insert("authorization", bearer);
            let page = clients[caller].clone().list_prospects(request).await.unwrap().into_inner();
            assert_eq!(page.prospects.len(), 50);
        }
    })
    .await
}

/// A figure against its goal: `min_per_second`, `max_p50_ms`, `max_p99_ms`.
fn against(label: &str, f: &Figures, goal: (Option<f64>, Option<f64>, Option<f64>)) {
    let mut verdicts = Vec::new();
    if let Some(rate) = goal.0 {
        verdicts.push(format!("≥ {rate:.0}/s {}", if f.per_second >= rate { "met" } else { "NOT MET" }));
    }
    if let Some(p50) = goal.1 {
        verdicts.push(format!("p50 ≤ {p50} ms {}", if f.p50_ms <= p50 { "met" } else { "NOT MET" }));
    }
    if let Some(p99) = goal.2 {
        verdicts.push(format!("p99 ≤ {p99} ms {}", if f.p99_ms <= p99 { "met" } else { "NOT MET" }));
    }
    println!(
        "{label:<44} {:>8.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms   goal: {}",
        f.per_second,
        f.p50_ms,
        f.p99_ms,
        if verdicts.is_empty() { "reported".to_owned() } else { verdicts.join(", ") }
    );
}

/// CPU time of `f`, median of 5 rounds of `n`, in microseconds.
fn cpu_micros(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for i in 0..n {
                f(i);
            }
            start.elapsed().as_secs_f64() * 1e6 / n as f64
        })
        .collect();
    median(&mut rounds)
}

fn print(label: &str, f: &Figures) {
    println!("{label:<44} {:>8.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms", f.per_second, f.p50_ms, f.p99_ms);
}

fn main() {
    let runs = env("BENCH_RUNS", 3);
    let connections = env("BENCH_CONNECTIONS", 16);
    let seconds = env("BENCH_SECONDS", 5) as u64;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    // The proof of work: the gateway's side only (the browser does the search).
    let pow = ProofOfWork::new(vec![7; 32], 5_000, Duration::from_secs(600));
    let solutions: Vec<String> = (0..200).map(|_| pow::solve(&pow.challenge()).unwrap()).collect();
    let verify_us = cpu_micros(solutions.len(), |i| pow.verify(&solutions[i]).unwrap());
    let challenge_us = cpu_micros(2_000, |_| {
        std::hint::black_box(pow.challenge());
    });
    println!("proof of work: verify one solution {verify_us:.1} µs CPU; make one challenge {challenge_us:.1} µs CPU");

    let stack = Stack::start();
    println!(
        "edge at {} (service in-process at {}), {connections} connections, {seconds} s a run, {runs} runs",
        stack.http, stack.grpc
    );
    let (mut rest, mut grpc, mut rest_one, mut grpc_one) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Warm up connections, caches and the store file.
    rest_run(&stack, connections, 1, 10_000_000);
    runtime.block_on(grpc_run(&stack, connections, 1, 20_000_000));
    for run in 0..runs {
        let base = (run + 1) * 1_000_000;
        let r = rest_run(&stack, connections, seconds, base);
        print(&format!("run {run}: REST POST /prospects"), &r);
        let g = runtime.block_on(grpc_run(&stack, connections, seconds, base + 300_000));
        print(&format!("run {run}: gRPC CreateProspect (direct)"), &g);
        let r1 = rest_run(&stack, 1, 2, base + 600_000);
        print(&format!("run {run}: REST, one call at a time"), &r1);
        let g1 = runtime.block_on(grpc_run(&stack, 1, 2, base + 800_000));
        print(&format!("run {run}: gRPC, one call at a time"), &g1);
        rest.push(r);
        grpc.push(g);
        rest_one.push(r1);
        grpc_one.push(g1);
    }
    println!("\nmedians of {runs} runs:");
    for (label, v) in [
        ("REST POST /prospects (edge → service)", &rest),
        ("gRPC CreateProspect (service direct)", &grpc),
        ("REST, one call at a time", &rest_one),
        ("gRPC, one call at a time", &grpc_one),
    ] {
        print(label, &median_figures(v));
    }
    println!(
        "edge overhead at p50: {:.2} ms under load, {:.2} ms one call at a time",
        median_figures(&rest).p50_ms - median_figures(&grpc).p50_ms,
        median_figures(&rest_one).p50_ms - median_figures(&grpc_one).p50_ms
    );

    // The New column now holds every card the runs above created (> 10,000).
    type Run<'a> = Box<dyn Fn(&Stack, usize, u64) -> Figures + 'a>;
    let paths: [(&str, Run); 3] = [
        ("REST GET /prospects?status=new (column page)", Box::new(column_rest_run)),
        ("gRPC-web ListProspects through the edge", Box::new(column_grpc_web_run)),
        ("gRPC ListProspects (service direct)", Box::new(|s, c, t| runtime.block_on(column_grpc_run(s, c, t)))),
    ];
    let mut column: Vec<(String, Vec<Figures>, Vec<Figures>)> = Vec::new();
    for (label, run) in &paths {
        run(&stack, connections, 1);
        let (mut many, mut one) = (Vec::new(), Vec::new());
        for r in 0..runs {
            let f = run(&stack, connections, seconds);
            print(&format!("run {r}: {label}"), &f);
            many.push(f);
            let f1 = run(&stack, 1, 2);
            print(&format!("run {r}: {label}, one at a time"), &f1);
            one.push(f1);
        }
        column.push(((*label).to_owned(), many, one));
    }
    drop(paths);
    // Memory the gateway keeps once the load is over.
    std::thread::sleep(Duration::from_secs(2));
    let status = std::fs::read_to_string(format!("/proc/{}/status", stack.child.id())).unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).unwrap_or("?").to_owned()
    };
    println!(
        "\ngateway (with its service) idle after the load: VmRSS {} kB (anonymous {} kB: heap, stacks, caches; file {} kB: the binary's pages)",
        field("VmRSS:"),
        field("RssAnon:"),
        field("RssFile:")
    );
    println!("\nagainst the goals (medians of {runs} runs; {connections} connections, then 1):");
    against("REST POST /prospects (submit)", &median_figures(&rest), (Some(6_000.0), None, None));
    against("REST submit, one at a time", &median_figures(&rest_one), (None, Some(0.3), None));
    for (label, many, one) in &column {
        let rest_page = label.starts_with("REST");
        against(label, &median_figures(many), (rest_page.then_some(8_000.0), None, None));
        against(
            &format!("{label}, one at a time"),
            &median_figures(one),
            if rest_page { (None, Some(0.3), Some(1.0)) } else { (None, None, None) },
        );
    }

    let live: Vec<Figures> = (0..runs)
        .map(|run| {
            let f = runtime.block_on(live_run(&stack, 200, (run + 1) * 1_000_000 + 900_000));
            print(&format!("run {run}: 201 → watcher's change"), &f);
            f
        })
        .collect();
    print("median: a submission's 201 → the watcher's change", &median_figures(&live));
    drop(stack);

    let (hook, arrivals) = runtime.block_on(webhook_receiver());
    let notifying = Stack::start_with(&[
        ("ASTRO_WEBHOOK_URLS", &hook),
        ("ASTRO_WEBHOOK_SECRET", "bench-webhook-key-0123456789"),
        ("ASTRO_WEBHOOK_ALLOW_PRIVATE", "true"),
    ]);
    let webhooks: Vec<Figures> = (0..runs)
        .map(|run| {
            let f = runtime.block_on(webhook_run(&notifying, &arrivals, 200, (run + 1) * 1_000_000 + 950_000));
            print(&format!("run {run}: 201 → webhook received"), &f);
            f
        })
        .collect();
    print("median: a submission's 201 → the webhook's receipt", &median_figures(&webhooks));
}

type Arrivals = Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>>;

/// A webhook receiver on loopback noting when each prospect's notification arrives.
async fn webhook_receiver() -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let noted = arrivals.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let noted = noted.clone();
            async move {
                let at = Instant::now();
                if let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body)
                    && let Some(id) = event["prospect"]["id"].as_str()
                {
                    noted.lock().unwrap().insert(id.to_owned(), at);
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, arrivals)
}

/// Submits `form(i)`; returns the new card's id and when its 201 came.
async fn submit(http: &reqwest::Client, url: &str, i: usize) -> (String, Instant) {
    let response = http.post(url).json(&form(i)).send().await.unwrap();
    let acknowledged = Instant::now();
    assert_eq!(response.status(), 201);
    let id = response.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    (id, acknowledged)
}

/// `n` submissions one at a time, each timed from its 201 to its webhook.
async fn webhook_run(stack: &Stack, arrivals: &Arrivals, n: usize, offset: usize) -> Figures {
    let http = reqwest::Client::new();
    let url = format!("http://{}/prospects", stack.http);
    let started = Instant::now();
    let mut delays = Vec::with_capacity(n);
    for i in 0..n {
        let (id, acknowledged) = submit(&http, &url, offset + i).await;
        let deadline = acknowledged + Duration::from_secs(10);
        loop {
            if let Some(at) = arrivals.lock().unwrap().get(&id) {
                delays.push(at.saturating_duration_since(acknowledged));
                break;
            }
            assert!(Instant::now() < deadline, "no webhook within 10 s");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    figures(delays, started.elapsed())
}

/// `n` submissions one at a time, each timed from its 201 to the moment a
/// watcher of the board receives its change.
async fn live_run(stack: &Stack, n: usize, offset: usize) -> Figures {
    use astro_proto::v1::WatchProspectsRequest;
    let admin = admin_token();
    let channel = grpc_channel(stack).await;
    let mut request = tonic::Request::new(WatchProspectsRequest::default());
    request.metadata_mut().insert("authorization", format!("Bearer {admin}").parse().unwrap());
    let mut stream = ProspectServiceClient::new(channel).watch_prospects(request).await.unwrap().into_inner();
    let http = reqwest::Client::new();
    let url = format!("http://{}/prospects", stack.http);
    let started = Instant::now();
    let mut delays = Vec::with_capacity(n);
    for i in 0..n {
        let (id, acknowledged) = submit(&http, &url, offset + i).await;
        'seen: loop {
            let message = stream.message().await.unwrap().expect("the stream stays open");
            if message.changes.iter().any(|c| c.prospect_id == id) {
                delays.push(acknowledged.elapsed());
                break 'seen;
            }
        }
    }
    figures(delays, started.elapsed())
}
