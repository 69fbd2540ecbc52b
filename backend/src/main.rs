//! `partner-registry`: serve the API, manage API tokens, verify the audit chain,
//! print the entitlement review.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use partner_registry::review;
use partner_registry::store::{self, AuditCheck, Role};
use partner_registry::{Clock, Config, ManualClock, SystemClock};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "partner-registry",
    version,
    about = "Registry of partner orgs and their API clients"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--db PATH` (or `PARTNER_REGISTRY_DB`), shared by every subcommand.
#[derive(clap::Args)]
struct DbArg {
    #[arg(
        long,
        env = "PARTNER_REGISTRY_DB",
        default_value = "./partner-registry.db"
    )]
    db: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[arg(
            long,
            env = "PARTNER_REGISTRY_LISTEN",
            default_value = "127.0.0.1:8080"
        )]
        listen: SocketAddr,
        #[command(flatten)]
        db: DbArg,
        /// Start on a settable clock at this RFC 3339 instant and enable PUT /v1/clock (tests only).
        #[arg(long, hide = true)]
        fake_clock: Option<String>,
    },
    /// Manage API bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the entitlement review: what a periodic access review must look at.
    Review {
        #[command(flatten)]
        db: DbArg,
        #[arg(long, value_parser = ["text", "markdown", "json"], default_value = "text")]
        format: String,
        /// Expiry window (clients expiring within it are listed).
        #[arg(long, default_value = "720h")]
        within: String,
        /// Secrets older than this are listed.
        #[arg(long, default_value = "2160h")]
        rotation_age: String,
        /// Clients unused for longer than this are listed.
        #[arg(long, default_value = "720h")]
        unused_for: String,
        /// Review as of this RFC 3339 instant instead of now (tests).
        #[arg(long, hide = true)]
        now: Option<String>,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it alone on stdout.
    Create {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["admin", "reviewer", "org"])]
        role: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Revoke the live token with this name.
    Revoke {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the audit chain under the server key (PARTNER_REGISTRY_SECRET_KEY_FILE
    /// or <db>.key) and against its head file (<db>.audit-head).
    Verify {
        #[command(flatten)]
        db: DbArg,
    },
}

/// The audit chain of `db`: the server key as `serve` finds it
/// (`PARTNER_REGISTRY_SECRET_KEY_FILE` or `<db>.key`), created when `create` and
/// missing, and the head file beside the database.
fn chain(db: &std::path::Path, create: bool) -> anyhow::Result<store::Chain> {
    let path = partner_registry::crypto::SecretKey::default_path(db);
    let key = if create {
        partner_registry::crypto::SecretKey::load_or_create(&path)
    } else {
        partner_registry::crypto::SecretKey::load(&path)
    }
    .context("loading the server key")?;
    Ok(store::Chain::new(key, db))
}

fn open(db: &std::path::Path, chain: &store::Chain) -> anyhow::Result<rusqlite::Connection> {
    let mut c = store::open_connection(db).with_context(|| format!("opening {}", db.display()))?;
    store::migrate(&mut c, chain).context("migrating the database")?;
    Ok(c)
}

fn lib_err(e: partner_registry::Error) -> anyhow::Error {
    match e {
        partner_registry::Error::Validation(errs) => anyhow::anyhow!(
            "{}",
            errs.iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let now = || time::OffsetDateTime::now_utc().unix_timestamp();
    match cli.command {
        Command::Serve {
            listen,
            db: DbArg { db },
            fake_clock,
        } => serve(listen, db, fake_clock),
        Command::Token { command } => match command {
            TokenCommand::Create {
                db: DbArg { db },
                name,
                role,
                org,
            } => {
                let role = Role::parse(&role).context("role must be admin, reviewer or org")?;
                let chain = chain(&db, true)?;
                let mut c = open(&db, &chain)?;
                let token = store::token_create(&mut c, &chain, &name, role, org.as_deref(), now())
                    .map_err(lib_err)?;
                println!("{token}");
                Ok(())
            }
            TokenCommand::List { db: DbArg { db } } => {
                let c = open(&db, &chain(&db, true)?)?;
                for t in store::token_list(&c).map_err(lib_err)? {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        t.name,
                        t.role,
                        t.org_id.as_deref().unwrap_or("-"),
                        t.created_at,
                        t.revoked_at
                            .as_deref()
                            .map(|r| format!("revoked {r}"))
                            .unwrap_or_else(|| "active".into())
                    );
                }
                Ok(())
            }
            TokenCommand::Revoke {
                db: DbArg { db },
                name,
            } => {
                let chain = chain(&db, true)?;
                let mut c = open(&db, &chain)?;
                store::token_revoke(&mut c, &chain, &name, now()).map_err(lib_err)?;
                eprintln!("token {name} revoked");
                Ok(())
            }
        },
        Command::Review {
            db: DbArg { db },
            format,
            within,
            rotation_age,
            unused_for,
            now: at,
        } => {
            if !db.exists() {
                bail!("no database at {}", db.display());
            }
            let q = std::collections::HashMap::from([
                ("within".to_string(), within),
                ("rotation_age".to_string(), rotation_age),
                ("unused_for".to_string(), unused_for),
            ]);
            let params = partner_registry::handlers::review_params(&q).map_err(lib_err)?;
            let at = match at {
                Some(s) => partner_registry::models::parse_ts(&s)
                    .context("--now must be an RFC 3339 timestamp")?,
                None => now(),
            };
            let c = open(&db, &chain(&db, true)?)?;
            let review = review::review(&c, at, params).map_err(lib_err)?;
            let out = match format.as_str() {
                "json" => format!("{}\n", serde_json::to_string(&review)?),
                "markdown" => review::markdown(&review),
                _ => review::text(&review),
            };
            std::io::stdout().lock().write_all(out.as_bytes())?;
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { db: DbArg { db } },
        } => {
            if !db.exists() {
                bail!("no database at {}", db.display());
            }
            // The server's own key: a new one would only prove that nothing verifies.
            let chain = chain(&db, false)?;
            let c = open(&db, &chain)?;
            match store::verify_audit(&c, &chain).map_err(lib_err)? {
                AuditCheck::Intact(n) => {
                    println!("audit chain intact: {n} events");
                    Ok(())
                }
                AuditCheck::Broken { seq, reason } => {
                    eprintln!("audit chain broken at sequence number {seq}: {reason}");
                    std::process::exit(1);
                }
            }
        }
    }
}

fn serve(listen: SocketAddr, db: PathBuf, fake_clock: Option<String>) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = match fake_clock {
        Some(s) => {
            let t = time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
                .context("--fake-clock must be an RFC 3339 timestamp")?;
            Arc::new(ManualClock::new(t))
        }
        None => Arc::new(SystemClock),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let running = partner_registry::start(
            Config {
                listen,
                db,
                key_file: None,
                access_log: std::env::var("PARTNER_REGISTRY_ACCESS_LOG")
                    .map(|v| v != "0")
                    .unwrap_or(true),
            },
            clock,
        )
        .await
        .map_err(lib_err)?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{}", running.addr)?;
            out.flush()?;
        }
        shutdown_signal().await;
        eprintln!("shutting down: finishing requests in flight");
        running.shutdown().await;
        eprintln!("database closed");
        Ok(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
