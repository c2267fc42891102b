//! `astro-service`: serves the prospect service, and administers its users.
//!
//! ```text
//! astro-service                         # serve (same as `astro-service serve`)
//! astro-service user add --email E --role admin|sales|viewer|service [--name N]   # password on stdin
//! astro-service user reset-password --email E     # password on stdin
//! astro-service token issue --email E --role service
//! astro-service backup PATH                       # embedded store: a consistent copy, while serving
//! astro-service restore PATH                      # into an empty ASTRO_DATA_DIR
//! astro-service dump PATH / load PATH             # every item as JSON Lines, to move between stores
//! ```

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context as _;
use astro_authorizer::Role;
use astro_service::{
    config::{LogFormat, ServeConfig, StoreConfig, StoreKind},
    domain::DomainError,
    process, server,
    store::backup,
    telemetry,
};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "astro-service", version, about = "The Astro Qualif prospect service (gRPC + gRPC-web)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Serve native gRPC and gRPC-web (the default).
    Serve,
    /// Manage the users who can sign in.
    #[command(subcommand)]
    User(UserCommand),
    /// Issue access tokens for internal callers and operators.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Exit 0 when the service at `ASTRO_GRPC_ADDR` answers SERVING to the
    /// gRPC health check (the container's health check).
    Health,
    /// Copy the embedded store to the new file PATH, while the service runs:
    /// the copy is the store as of one commit, checked before it is kept.
    /// (On DynamoDB, use point-in-time recovery: see docs/deploy.md.)
    Backup { path: std::path::PathBuf },
    /// Bring the backup PATH into `ASTRO_DATA_DIR`, which must hold no store
    /// (stop the service first; start it after).
    Restore { path: std::path::PathBuf },
    /// Write every stored item to the new file PATH as JSON Lines (the
    /// contract's JSON form): a full export, to move to another store.
    Dump { path: std::path::PathBuf },
    /// Load a dump into the configured store, which must be empty (the
    /// embedded store or a new DynamoDB table), before starting the service.
    Load { path: std::path::PathBuf },
    /// Manage the DynamoDB table (`ASTRO_STORE=dynamodb`).
    #[command(subcommand)]
    Table(TableCommand),
}

#[derive(Subcommand)]
enum TableCommand {
    /// Create `ASTRO_DYNAMODB_TABLE` from the definition generated from proto/.
    Create,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a member; reads the password from standard input.
    Add {
        #[arg(long)]
        email: String,
        /// admin, sales, viewer or service.
        #[arg(long, value_parser = parse_role, default_value = "admin")]
        role: Role,
        /// How the team sees them (the board, the history).
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Set a member's password, ending their sessions; reads the new password from standard input.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a 24-hour token signed with the service's secret.
    Issue {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::from_claim(text).ok_or_else(|| format!("unknown role {text:?}: admin, sales, viewer or service"))
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

fn describe(error: DomainError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

#[global_allocator]
static ALLOCATOR: process::Allocator = process::Allocator;

fn main() -> anyhow::Result<()> {
    process::return_freed_memory();
    let cli = Cli::parse();
    let embedded = cli.serve.store.kind == StoreKind::Embedded;
    process::runtime(cli.serve.worker_threads, embedded)?.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.serve).await,
        Command::Health => server::probe(cli.serve.grpc_addr).await,
        Command::User(command) => {
            telemetry::init(LogFormat::Text);
            let services = offline_services(&cli.serve).await?;
            match command {
                UserCommand::Add { email, role, name } => {
                    let password = read_password()?;
                    services.accounts.add_user(&email, &password, role, &name).await.map_err(describe)?;
                    println!("added {} {}", role.claim(), email.trim().to_lowercase());
                }
                UserCommand::ResetPassword { email } => {
                    let password = read_password()?;
                    services.accounts.reset_password(&email, &password).await.map_err(describe)?;
                    println!("password of {} changed", email.trim().to_lowercase());
                }
            }
            Ok(())
        }
        Command::Backup { path } | Command::Restore { path } if !embedded_store(&cli.serve) => {
            anyhow::bail!(
                "{} is for the embedded store; on DynamoDB use point-in-time recovery (docs/deploy.md)",
                path.display()
            )
        }
        Command::Backup { path } => {
            let dir = cli.serve.store.data_dir.clone();
            let copied = tokio::task::spawn_blocking(move || backup::backup(&dir, &path).map(|c| (c, path))).await?;
            let (copied, path) = copied?;
            println!(
                "backed up {} items ({}) to {} in {:.2} s",
                copied.items,
                size(copied.bytes),
                path.display(),
                copied.took.as_secs_f64()
            );
            Ok(())
        }
        Command::Restore { path } => {
            let dir = cli.serve.store.data_dir.clone();
            let copied = tokio::task::spawn_blocking(move || backup::restore(&path, &dir).map(|c| (c, dir))).await?;
            let (copied, dir) = copied?;
            println!(
                "restored {} items ({}) into {} in {:.2} s",
                copied.items,
                size(copied.bytes),
                dir.display(),
                copied.took.as_secs_f64()
            );
            Ok(())
        }
        Command::Dump { path } => {
            let store = server::open_store(&cli.serve.store).await?;
            let written = astro_service::store::dump::dump(store.as_ref(), &path).await?;
            println!("dumped {written} items to {}", path.display());
            Ok(())
        }
        Command::Load { path } => {
            let store = server::open_store(&cli.serve.store).await?;
            let loaded = astro_service::store::dump::load(store.as_ref(), &path).await?;
            println!("loaded {loaded} items from {}", path.display());
            Ok(())
        }
        Command::Table(TableCommand::Create) => {
            let client = server::dynamodb_client().await;
            let table = &cli.serve.store.dynamodb_table;
            astro_service::store::dynamodb::create_table(&client, table).await?;
            println!("created table {table}");
            Ok(())
        }
        Command::Token(TokenCommand::Issue { email, role }) => {
            let keys = server::key_ring(&cli.serve).await?;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
            let (token, _) = keys.issuer().issue(&email, role, now)?;
            println!("{token}");
            Ok(())
        }
    }
}

fn embedded_store(config: &ServeConfig) -> bool {
    config.store.kind == StoreKind::Embedded
}

/// Bytes as people read them.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b => format!("{:.1} KiB", b as f64 / 1024.0),
    }
}

async fn offline_services(config: &ServeConfig) -> anyhow::Result<server::Services> {
    let StoreConfig { bcrypt_cost, .. } = config.store;
    let store = server::open_store(&config.store).await?;
    Ok(server::services(store, server::key_ring(config).await?, bcrypt_cost, &config.public_url, Default::default()))
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    let signal = server::shutdown_signal();
    let mut running = astro_service::start(config).await?;
    let stop = running.shutdown_handle();
    server::serve_until_signal(running.wait(), stop, signal).await
}
