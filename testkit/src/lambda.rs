//! A local Lambda Runtime API, as AWS Lambda serves it to a function's
//! `bootstrap`: `GET …/invocation/next` hands out the queued events one by
//! one (with their request id and deadline), `POST …/response` and
//! `…/error` report back. With no event left, `next` blocks, as Lambda's
//! does between invocations — until a test [pushes](RuntimeApi::push) one:
//! the function is then idle and ready, the moment a cold start ends
//! ([`RuntimeApi::ready`]).

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{Arc, Condvar, Mutex, mpsc},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// What the function sent back for one invocation.
#[derive(Debug)]
pub struct Outcome {
    /// `response` or `error` (`init/error` reports `error` too).
    pub kind: String,
    pub body: serde_json::Value,
}

/// The events not handed out yet, and their count so far (the request ids).
type Queue = Arc<(Mutex<(VecDeque<(usize, serde_json::Value)>, usize)>, Condvar)>;

pub struct RuntimeApi {
    /// The port to give the function as `AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>`.
    pub port: u16,
    queue: Queue,
    outcomes: mpsc::Receiver<Outcome>,
    polls: mpsc::Receiver<Instant>,
}

impl RuntimeApi {
    /// Serves `events` in order, then blocks every further `next`.
    pub fn start(events: Vec<serde_json::Value>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = events.len();
        let queue: Queue = Arc::new((Mutex::new((events.into_iter().enumerate().collect(), count)), Condvar::new()));
        let (tx, outcomes) = mpsc::channel();
        let (polled, polls) = mpsc::channel();
        let served = queue.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (queue, tx, polled) = (served.clone(), tx.clone(), polled.clone());
                std::thread::spawn(move || serve(stream, &queue, &tx, &polled));
            }
        });
        Self { port, queue, outcomes, polls }
    }

    /// Queues one more event (an invocation the function gets next).
    pub fn push(&self, event: serde_json::Value) {
        let (lock, ready) = &*self.queue;
        let mut queue = lock.lock().unwrap();
        let id = queue.1;
        queue.0.push_back((id, event));
        queue.1 += 1;
        ready.notify_all();
    }

    /// Queues `event` and waits for its outcome (up to `timeout`).
    pub fn invoke(&self, event: serde_json::Value, timeout: Duration) -> Option<Outcome> {
        self.push(event);
        self.outcome(timeout)
    }

    /// The next invocation's outcome (waiting up to `timeout`).
    pub fn outcome(&self, timeout: Duration) -> Option<Outcome> {
        self.outcomes.recv_timeout(timeout).ok()
    }

    /// When the function next asked for an invocation (up to `timeout`):
    /// the first time, the end of its init.
    pub fn ready(&self, timeout: Duration) -> Option<Instant> {
        self.polls.recv_timeout(timeout).ok()
    }
}

fn serve(stream: TcpStream, queue: &Queue, tx: &mpsc::Sender<Outcome>, polled: &mpsc::Sender<Instant>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
        if path.ends_with("/invocation/next") {
            let _ = polled.send(Instant::now());
            // Idle between invocations: the function waits here.
            let (lock, ready) = &**queue;
            let mut waiting = lock.lock().unwrap();
            let (id, event) = loop {
                // A function killed while it waited here must not take the
                // next event with it: its successor's `next` gets it.
                if peer_closed(&writer) {
                    return;
                }
                if let Some(next) = waiting.0.pop_front() {
                    break next;
                }
                waiting = ready.wait_timeout(waiting, Duration::from_millis(50)).unwrap().0;
            };
            drop(waiting);
            let payload = event.to_string();
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 30_000;
            let written = write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-{id}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:astro\r\n\
                 Content-Length: {}\r\n\r\n{payload}",
                payload.len()
            );
            if written.is_err() {
                return;
            }
        } else {
            let kind = path.rsplit('/').next().unwrap_or("").to_owned();
            let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            let _ = tx.send(Outcome { kind, body });
            if write!(writer, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").is_err() {
                return;
            }
        }
    }
}

/// Whether the function at the other end has gone (its socket closed).
fn peer_closed(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let closed = match stream.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    let _ = stream.set_nonblocking(false);
    closed
}

/// The standard environment Lambda gives a function, pointed at `api`.
pub fn function_env(api: &RuntimeApi, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", api.port)),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "test".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
    ]
}

/// The command that runs a built function's `bootstrap`: itself, or under
/// qemu-user with arm64's glibc when it is an arm64 build on this x86
/// machine (`make qemu` installs both).
pub fn bootstrap(path: &str) -> std::process::Command {
    let header = std::fs::read(path).unwrap_or_else(|e| panic!("the bootstrap {path}: {e}"));
    // ELF e_machine: 0xb7 is AArch64.
    let arm64 = header.get(18..20) == Some(&[0xb7, 0x00]);
    match arm64 && !cfg!(target_arch = "aarch64") {
        true => {
            let mut qemu = std::process::Command::new("qemu-aarch64");
            qemu.args(["-L", "/usr/aarch64-linux-gnu", path]);
            qemu
        }
        false => std::process::Command::new(path),
    }
}

/// The built function at `path` ([`bootstrap`]) as Lambda starts it: only
/// Lambda's environment for `name` on `api` and the tests' moto
/// credentials; the caller adds the function's own settings.
pub fn function(path: &str, api: &RuntimeApi, name: &str) -> std::process::Command {
    let mut command = bootstrap(path);
    command.env_clear().envs(function_env(api, name)).envs(crate::moto::aws_env());
    command
}

/// A function's cold start, median of `starts`: from the spawn of the
/// command `prepare` makes (its environment pointed at a fresh Runtime API)
/// to its first `invocation/next`, with its resident memory then.
pub struct ColdStart {
    pub starts: usize,
    pub init_ms: f64,
    pub rss_mib: f64,
    /// Heap and stacks; the rest of the resident memory is the binary's and
    /// the libraries' pages.
    pub anonymous_mib: f64,
}

impl ColdStart {
    /// Prints the figures of `what`, built as `binary`.
    pub fn report(&self, what: &str, binary: &str) {
        let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0;
        println!(
            "{what} cold start, median of {}: init {:.1} ms (spawn → ready), VmRSS {:.1} MiB ({:.1} anonymous); {binary}: {size:.1} MiB",
            self.starts, self.init_ms, self.rss_mib, self.anonymous_mib
        );
    }
}

/// Measures [`ColdStart`]: `prepare` gets each start's Runtime API.
pub fn cold_start(starts: usize, mut prepare: impl FnMut(&RuntimeApi) -> std::process::Command) -> ColdStart {
    let (mut init, mut rss, mut anon) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..starts {
        let api = RuntimeApi::start(Vec::new());
        let mut command = prepare(&api);
        let started = Instant::now();
        let mut child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the function starts");
        let ready = api.ready(Duration::from_secs(60)).expect("the function asks for an event");
        init.push(ready.duration_since(started).as_secs_f64() * 1000.0);
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        rss.push(field("VmRSS:"));
        anon.push(field("RssAnon:"));
        let _ = child.kill();
        let _ = child.wait();
    }
    ColdStart {
        starts,
        init_ms: crate::bench::median(&mut init),
        rss_mib: crate::bench::median(&mut rss),
        anonymous_mib: crate::bench::median(&mut anon),
    }
}
