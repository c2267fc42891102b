//! A DynamoDB- and Secrets-Manager-compatible server for the tests: moto,
//! started once per test binary on a free loopback port, killed with it, and
//! served one request at a time (see `moto_serial.py`).

use std::{
    net::TcpListener,
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Command, Stdio},
    sync::{
        Arc, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::{
    interceptors::{Intercept, context::BeforeTransmitInterceptorContextRef},
    runtime_components::RuntimeComponents,
};
use aws_smithy_types::config_bag::ConfigBag;

pub struct Moto {
    pub url: String,
}

/// The Python with moto (and aiosmtpd): `$MOTO_PYTHON`, else the project's
/// `.tools/venv` (`make deps`), else `python3`.
pub(crate) fn moto_python() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_PYTHON") {
        return path.into();
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/python");
    if local.exists() { local } else { "python3".into() }
}

/// A table name no other test uses.
pub fn table_name() -> String {
    format!("astro-{}", uuid::Uuid::new_v4().simple())
}

pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // moto's app on one thread: see tests/moto_serial.py.
        let launcher = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("moto_serial.py");
        let mut command = Command::new(moto_python());
        command.arg(launcher).args(["127.0.0.1", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: prctl in the child before exec; it only asks the kernel to
        // kill moto when this test process ends.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        // The death signal follows the thread that spawned moto, so spawn it
        // from a thread that lives as long as this test process.
        let (spawned_tx, spawned) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let child = command.spawn();
            let ok = child.is_ok();
            let _ = spawned_tx.send(child.map(|_| ()));
            if ok {
                loop {
                    std::thread::park();
                }
            }
        });
        spawned.recv().unwrap().expect("moto_server runs: `make deps` installs it");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto { url: format!("http://127.0.0.1:{port}") }
    })
}

/// Counts the requests a client sends, by operation name.
#[derive(Debug, Default, Clone)]
pub struct RequestCounter {
    pub calls: Arc<std::sync::Mutex<Vec<String>>>,
    pub total: Arc<AtomicUsize>,
}

impl RequestCounter {
    /// The operations sent since the last call, and forgets them.
    pub fn take(&self) -> Vec<String> {
        self.total.store(0, Ordering::SeqCst);
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned())
            .unwrap_or_default();
        self.calls.lock().unwrap().push(target);
        self.total.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

pub fn dynamodb_client(counter: Option<RequestCounter>) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto().url)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"));
    if let Some(counter) = counter {
        config = config.interceptor(counter);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

pub fn secrets_client(counter: Option<RequestCounter>) -> aws_sdk_secretsmanager::Client {
    let mut config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
        .endpoint_url(&moto().url)
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new("test", "test", None, None, "tests"));
    if let Some(counter) = counter {
        config = config.interceptor(counter);
    }
    aws_sdk_secretsmanager::Client::from_conf(config.build())
}

/// The environment a child process needs to reach the tests' moto server.
pub fn aws_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto().url.clone()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
    ]
}
