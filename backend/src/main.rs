//! `partner-registry`: serve the API, manage API tokens, verify the audit chain,
//! print the entitlement review, copy a registry to another engine.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use partner_registry::audit::{AnchorRead, AuditCheck};
use partner_registry::campaigns::Campaign;
use partner_registry::db::{Target, Tx};
use partner_registry::records::Org;
use partner_registry::service::{self, WriteCtx};
use partner_registry::{Clock, Config, ManualClock, Opened, SystemClock, review};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
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

/// Where the registry's data and key are, shared by every subcommand.
#[derive(clap::Args)]
struct DbArg {
    /// A SQLite file, or a postgres:// (postgresql://) URL.
    #[arg(
        long,
        env = "PARTNER_REGISTRY_DB",
        default_value = "./partner-registry.db"
    )]
    db: String,
    /// The server key file (default: `<db>.key` beside a SQLite file; required
    /// for PostgreSQL, the same file on every replica).
    #[arg(long, env = "PARTNER_REGISTRY_SECRET_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// The audit anchor file of a PostgreSQL registry (SQLite keeps `<db>.audit-head`).
    #[arg(long, env = "PARTNER_REGISTRY_AUDIT_ANCHOR")]
    audit_anchor: Option<PathBuf>,
}

impl DbArg {
    fn target(&self) -> Target {
        Target::parse(&self.db)
    }

    /// Opens the registry; only `create` makes a database or key that is missing.
    fn open(&self, create: bool) -> anyhow::Result<Opened> {
        partner_registry::open(
            &self.target(),
            self.key_file.as_deref(),
            self.audit_anchor.as_deref(),
            create,
        )
        .map_err(lib_err)
    }
}

/// Logs and metrics of `serve`.
#[derive(clap::Args)]
struct OpsArgs {
    /// How log lines are written to stderr: readable `text`, or `json` (one object a line).
    #[arg(
        long,
        env = "PARTNER_REGISTRY_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
    /// The least severe level logged: error, warn, info, debug or trace (RUST_LOG, when set, wins).
    #[arg(long, env = "PARTNER_REGISTRY_LOG_LEVEL", default_value = "info")]
    log_level: tracing::Level,
    /// Also serve GET /metrics on this address, without a token (keep it private).
    #[arg(long, env = "PARTNER_REGISTRY_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl OpsArgs {
    /// Logs this registry's events at the chosen level, its dependencies'
    /// warnings and errors only, unless RUST_LOG says otherwise.
    fn init_logs(&self) -> anyhow::Result<()> {
        let directives = match std::env::var("RUST_LOG") {
            Ok(directives) if !directives.trim().is_empty() => directives,
            _ => format!("warn,partner_registry={}", self.log_level),
        };
        let filter = tracing_subscriber::EnvFilter::try_new(&directives)
            .with_context(|| format!("RUST_LOG {directives:?} is not a valid log filter"))?;
        let logs = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false);
        match self.log_format {
            LogFormat::Text => logs.init(),
            LogFormat::Json => logs.json().flatten_event(true).init(),
        }
        Ok(())
    }
}

/// HTTPS for `serve`.
#[derive(clap::Args)]
struct TlsArgs {
    /// Serve HTTPS with this certificate chain (PEM, leaf first); reloaded on SIGHUP.
    #[arg(long, env = "PARTNER_REGISTRY_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "PARTNER_REGISTRY_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates issued by this CA (PEM): mutual TLS.
    #[arg(long, env = "PARTNER_REGISTRY_CLIENT_CA", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
}

impl TlsArgs {
    fn files(self) -> anyhow::Result<Option<partner_registry::tls::TlsFiles>> {
        Ok(match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(partner_registry::tls::TlsFiles {
                cert,
                key,
                client_ca: self.client_ca,
            }),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        })
    }
}

/// How long `serve` waits for a client, and how many it serves at once.
#[derive(clap::Args)]
struct LimitArgs {
    /// Longest wait for the rest of a request head once it has begun (then 408).
    #[arg(long, env = "PARTNER_REGISTRY_HEADER_TIMEOUT", default_value = "10s")]
    header_timeout: String,
    /// Longest wait for the rest of a request body once its head has arrived.
    #[arg(long, env = "PARTNER_REGISTRY_BODY_TIMEOUT", default_value = "30s")]
    body_timeout: String,
    /// Longest wait for the next request on a keep-alive connection.
    #[arg(long, env = "PARTNER_REGISTRY_IDLE_TIMEOUT", default_value = "60s")]
    idle_timeout: String,
    /// Connections served at once; one more is answered 503 and closed.
    #[arg(long, env = "PARTNER_REGISTRY_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
}

impl LimitArgs {
    fn limits(&self) -> anyhow::Result<partner_registry::server::Limits> {
        let timeout = |flag: &str, value: &str| {
            partner_rules::parse_duration(value)
                .filter(|d| !d.is_zero())
                .with_context(|| {
                    format!(
                        "--{flag} must be a duration above zero such as 10s, 2m or 1h30m (got {value:?})"
                    )
                })
        };
        if self.max_connections == 0 {
            anyhow::bail!("--max-connections must be at least 1");
        }
        Ok(partner_registry::server::Limits {
            header_timeout: timeout("header-timeout", &self.header_timeout)?,
            body_timeout: timeout("body-timeout", &self.body_timeout)?,
            idle_timeout: timeout("idle-timeout", &self.idle_timeout)?,
            max_connections: self.max_connections,
        })
    }
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
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        tls: TlsArgs,
        #[command(flatten)]
        ops: OpsArgs,
        /// The audience (`aud`) RFC 7523 client assertions of private_key_jwt
        /// clients must name at introspection, for example this registry's
        /// introspection URL; without it, every assertion is inactive.
        #[arg(long, env = "PARTNER_REGISTRY_ASSERTION_AUDIENCE")]
        assertion_audience: Option<String>,
    },
    /// Create the database (and its server key) without serving.
    Init {
        #[command(flatten)]
        db: DbArg,
    },
    /// Manage API bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the entitlement review: what a periodic access review must look at;
    /// open, list, show and decide access review campaigns.
    #[command(args_conflicts_with_subcommands = true)]
    Review {
        #[command(subcommand)]
        command: Option<ReviewCommand>,
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
    /// Every active client and org a departing person, a compromised
    /// intermediary or a leaked scope reaches, with the contacts to call;
    /// `--revoke` revokes those clients in one audited transaction.
    BlastRadius {
        #[command(flatten)]
        db: DbArg,
        /// A person's email: the clients they own or hold as custodian (or as
        /// the technical owner of their intermediary), the orgs where they hold a role.
        #[arg(long)]
        owner: Option<String>,
        /// The clients of this org.
        #[arg(long)]
        org_id: Option<String>,
        /// The clients this intermediary org operates.
        #[arg(long)]
        operated_by: Option<String>,
        /// The clients holding this scope.
        #[arg(long)]
        scope: Option<String>,
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
        /// Revoke every client reached, in one transaction, audited.
        #[arg(long)]
        revoke: bool,
        /// The change reference recorded with the revocation (an incident ticket, say).
        #[arg(long)]
        change_ref: Option<String>,
        /// As of this RFC 3339 instant instead of now (tests).
        #[arg(long, hide = true)]
        now: Option<String>,
    },
    /// Approve one exact change for a change reference, as the org's approval
    /// authority (with an approver token bound to their email).
    Approve {
        #[command(flatten)]
        db: DbArg,
        /// The approver token.
        #[arg(long, env = "PARTNER_REGISTRY_TOKEN", hide_env_values = true)]
        token: String,
        /// The change reference the change is applied with (the pull request URL, say).
        #[arg(long)]
        change_ref: String,
        /// The client's id or client_id, or the org's id.
        #[arg(long)]
        resource: String,
        /// The attribute that changes (scopes, expires_at, owner, operated_by,
        /// allowed_scopes, contract_end, approval_policy).
        #[arg(long)]
        attribute: String,
        /// Its value before, exactly as the plan's warning shows it (which
        /// may begin with a hyphen: a key's thumbprint is base64url).
        #[arg(long, allow_hyphen_values = true)]
        old: String,
        /// Its value after, exactly as the plan's warning shows it.
        #[arg(long, allow_hyphen_values = true)]
        new: String,
        /// How long the approval may wait to be used (default 168h).
        #[arg(long)]
        expires_in: Option<String>,
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
        /// As of this RFC 3339 instant instead of now (tests).
        #[arg(long, hide = true)]
        now: Option<String>,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Storage tools.
    Storage {
        #[command(subcommand)]
        command: StorageCommand,
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
        #[arg(long, value_parser = ["admin", "reviewer", "org", "approver"])]
        role: String,
        #[arg(long)]
        org: Option<String>,
        /// The person an approver token is bound to (an org's approval authority).
        #[arg(long)]
        email: Option<String>,
        /// How long the token works, such as 720h (default: until revoked).
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List tokens with their status (never the tokens themselves).
    List {
        #[command(flatten)]
        db: DbArg,
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
        /// Statuses as of this RFC 3339 instant instead of now (tests).
        #[arg(long, hide = true)]
        now: Option<String>,
    },
    /// Revoke the live token with this name.
    Revoke {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        name: String,
    },
}

/// How a campaign is printed: readable `text`, or the API's `json`.
#[derive(clap::Args)]
struct CampaignFormat {
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    format: String,
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// Open an access review campaign over every live client of an org.
    Open {
        #[command(flatten)]
        db: DbArg,
        /// The org's id.
        #[arg(long)]
        org_id: String,
        /// Due at the end of this day, YYYY-MM-DD (default: 14 days ahead).
        #[arg(long)]
        due_date: Option<String>,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        format: CampaignFormat,
    },
    /// List campaigns, newest first.
    Campaigns {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        org_id: Option<String>,
        /// open, overdue or complete.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        format: CampaignFormat,
    },
    /// Show a campaign and its decisions.
    Show {
        #[command(flatten)]
        db: DbArg,
        /// The campaign's id (rvc_…).
        id: String,
        #[command(flatten)]
        format: CampaignFormat,
    },
    /// Decide one client of a campaign: keep it (with a comment) or revoke it at once.
    Decide {
        #[command(flatten)]
        db: DbArg,
        /// The campaign's id (rvc_…).
        id: String,
        /// The client's client_id or record id.
        #[arg(long)]
        client_id: String,
        #[arg(long, value_parser = ["keep", "revoke"])]
        decision: String,
        /// Why (required to keep).
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        format: CampaignFormat,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the audit chain under the server key, against its head row and its anchor.
    Verify {
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Subcommand)]
enum StorageCommand {
    /// Copy a SQLite registry into an empty PostgreSQL database, chain, hashes,
    /// tokens and idempotency records included.
    Copy {
        /// The SQLite file to copy.
        #[arg(long)]
        from: PathBuf,
        /// The postgres:// URL of an empty database.
        #[arg(long)]
        to: String,
        /// The server key file (default: `<from>.key`); the copy uses the same key.
        #[arg(long, env = "PARTNER_REGISTRY_SECRET_KEY_FILE")]
        key_file: Option<PathBuf>,
    },
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

/// A command's flags parsed as `parse` parses the API's body (the same
/// refusals), the errors naming the flags.
fn parse_flags<T>(
    flags: serde_json::Value,
    parse: impl FnOnce(&serde_json::Map<String, serde_json::Value>) -> partner_registry::Result<T>,
) -> anyhow::Result<T> {
    let body = flags.as_object().context("the flags as a body")?;
    parse(body).map_err(flag_names).map_err(lib_err)
}

/// A validation error of `token create` with each field named as its flag
/// (`expires_in` → `--expires-in`).
fn flag_names(e: partner_registry::Error) -> partner_registry::Error {
    match e {
        partner_registry::Error::Validation(errs) => partner_registry::Error::Validation(
            errs.into_iter()
                .map(|mut e| {
                    e.field = format!("--{}", e.field.replace('_', "-"));
                    e
                })
                .collect(),
        ),
        other => other,
    }
}

fn dash(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

/// `token list` for people: a header, then one line per token, in columns.
fn token_table(tokens: &[service::TokenInfo]) -> String {
    let mut rows = vec![
        [
            "NAME",
            "ROLE",
            "ORG",
            "STATUS",
            "CREATED",
            "CREATED_BY",
            "EXPIRES",
            "LAST_USED",
            "REVOKED",
        ]
        .map(String::from),
    ];
    rows.extend(tokens.iter().map(|t| {
        [
            t.name.clone(),
            t.role.as_str().to_string(),
            dash(&t.org_id),
            t.status.as_str().to_string(),
            t.created_at.clone(),
            t.created_by.clone(),
            dash(&t.expires_at),
            dash(&t.last_used_at),
            dash(&t.revoked_at),
        ]
    }));
    columns(&rows)
}

/// Rows of cells as aligned columns, one line each.
fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A campaign for people: one summary line, then its clients in columns.
fn campaign_text(c: &partner_registry::campaigns::CampaignView) -> String {
    let mut out = format!(
        "campaign {} org {} ({}) cause {} due {} status {}: {} undecided, {} kept, {} revoked\n",
        c.id,
        c.org_name,
        c.org_id,
        c.cause.as_str(),
        c.due_at,
        c.status.as_str(),
        c.undecided,
        c.kept,
        c.revoked
    );
    let mut rows = vec![
        [
            "CLIENT",
            "CLIENT_ID",
            "OWNER",
            "STATE",
            "DECIDED_BY",
            "COMMENT",
        ]
        .map(String::from),
    ];
    rows.extend(c.items.iter().map(|i| {
        [
            i.name.clone(),
            i.client_id.clone(),
            i.owner.clone(),
            i.state.to_string(),
            dash(&i.decided_by),
            dash(&i.comment),
        ]
    }));
    out.push_str(&columns(&rows));
    out
}

/// Prints campaigns as `format` says: the API's JSON, or text.
fn print_campaigns(
    campaigns: &[partner_registry::campaigns::CampaignView],
    format: &CampaignFormat,
    one: bool,
) -> anyhow::Result<ExitCode> {
    let out = match (format.format.as_str(), one) {
        ("json", true) => format!("{}\n", serde_json::to_string(&campaigns[0])?),
        ("json", false) => format!(
            "{}\n",
            serde_json::to_string(&serde_json::json!({ "items": campaigns }))?
        ),
        _ => campaigns
            .iter()
            .map(campaign_text)
            .collect::<Vec<_>>()
            .join("\n"),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn now_utc() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Runs the campaign use case `write` as the CLI's actor (its errors
/// naming the flags) and prints the campaign it leaves.
fn write_campaign(
    db: &DbArg,
    format: &CampaignFormat,
    write: impl FnOnce(&mut dyn Tx, &WriteCtx) -> partner_registry::Result<(Campaign, Org)>
    + Send
    + 'static,
) -> anyhow::Result<ExitCode> {
    let opened = db.open(false)?;
    let (campaign, org) = cli_write(&opened, move |tx, ctx| write(tx, ctx).map_err(flag_names))?;
    print_campaigns(&[campaign.view(&org, now_utc())], format, true)
}

/// `review open|campaigns|show|decide`: the campaign use cases as the CLI's actor.
fn review_campaigns(command: ReviewCommand) -> anyhow::Result<ExitCode> {
    use partner_registry::campaigns::{self, CampaignStatus};
    let view =
        |(c, o): &(campaigns::Campaign, partner_registry::records::Org)| c.view(o, now_utc());
    match command {
        ReviewCommand::Open {
            db,
            org_id,
            due_date,
            note,
            format,
        } => {
            let body = serde_json::json!({"org_id": org_id, "due_date": due_date, "note": note});
            let draft = campaigns::parse_open(body.as_object().context("the flags as a body")?);
            write_campaign(&db, &format, move |tx, ctx| {
                service::open_campaign(tx, ctx, draft)
            })
        }
        ReviewCommand::Campaigns {
            db,
            org_id,
            status,
            format,
        } => {
            let status = match status {
                None => None,
                Some(s) => Some(
                    CampaignStatus::parse(&s)
                        .context("--status must be open, overdue or complete")?,
                ),
            };
            let opened = db.open(false)?;
            let found = opened
                .db
                .read(|r| {
                    service::list_campaigns(
                        r,
                        &service::cli_actor(),
                        org_id.as_deref(),
                        status,
                        now_utc(),
                    )
                })
                .map_err(lib_err)?;
            let views: Vec<_> = found.iter().map(view).collect();
            print_campaigns(&views, &format, false)
        }
        ReviewCommand::Show { db, id, format } => {
            let opened = db.open(false)?;
            let found = opened
                .db
                .read(|r| service::get_campaign(r, &service::cli_actor(), &id))
                .map_err(lib_err)?;
            print_campaigns(&[view(&found)], &format, true)
        }
        ReviewCommand::Decide {
            db,
            id,
            client_id,
            decision,
            comment,
            format,
        } => {
            let body = serde_json::json!({"client_id": client_id, "decision": decision, "comment": comment});
            let draft = campaigns::parse_decision(body.as_object().context("the flags as a body")?);
            write_campaign(&db, &format, move |tx, ctx| {
                service::decide_campaign(tx, ctx, &id, draft)
            })
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            // One line, whatever RUST_BACKTRACE says: these are the user's errors.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A write made with the CLI: audited as `cli`, then the anchor moved up.
fn cli_write<T: Send + 'static>(
    opened: &Opened,
    f: impl FnOnce(&mut dyn Tx, &WriteCtx) -> partner_registry::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    cli_write_at(opened, None, cli_now(None)?, f)
}

/// The CLI's time: `--now` when given (tests), else the system's.
fn cli_now(at: Option<&str>) -> anyhow::Result<i64> {
    match at {
        Some(s) => {
            partner_registry::records::parse_ts(s).context("--now must be an RFC 3339 timestamp")
        }
        None => Ok(time::OffsetDateTime::now_utc().unix_timestamp()),
    }
}

/// [`cli_write`] with a change reference, at `now`.
fn cli_write_at<T: Send + 'static>(
    opened: &Opened,
    change_ref: Option<String>,
    now: i64,
    f: impl FnOnce(&mut dyn Tx, &WriteCtx) -> partner_registry::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    cli_write_as(opened, service::cli_actor(), change_ref, now, f)
}

/// [`cli_write_at`] as `actor` (the person whose token the command was given).
fn cli_write_as<T: Send + 'static>(
    opened: &Opened,
    actor: partner_registry::records::Actor,
    change_ref: Option<String>,
    now: i64,
    f: impl FnOnce(&mut dyn Tx, &WriteCtx) -> partner_registry::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let ctx = WriteCtx {
        key: opened.key.clone(),
        actor,
        request_id: partner_registry::crypto::new_id("cli_").unwrap_or_else(|_| "cli".into()),
        change_ref,
        now,
    };
    let (out, _) = opened.db.write(move |tx| f(tx, &ctx)).map_err(lib_err)?;
    if let (Some(anchor), Some(head)) = (
        &opened.anchor,
        opened.db.read(|r| r.audit_head()).map_err(lib_err)?,
    ) {
        anchor.advance_or_warn(head.seq, &head.hash);
    }
    Ok(out)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            listen,
            db,
            fake_clock,
            limits,
            tls,
            ops,
            assertion_audience,
        } => {
            ops.init_logs()?;
            serve(
                listen,
                db,
                fake_clock,
                limits.limits()?,
                tls.files()?,
                ops.metrics_listen,
                assertion_audience,
            )
        }
        Command::Init { db } => {
            db.open(true)?;
            eprintln!("registry ready at {}", db.target().describe());
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { command } => match command {
            TokenCommand::Create {
                db,
                name,
                role,
                org,
                email,
                expires_in,
            } => {
                // The flags as the API's body, so that both refuse alike.
                let flags = serde_json::json!({
                    "name": name, "role": role, "org": org, "email": email, "expires_in": expires_in,
                });
                let draft = partner_registry::requests::parse_token(
                    flags.as_object().context("the flags as a body")?,
                );
                let opened = db.open(false)?;
                let created = cli_write(&opened, move |tx, ctx| {
                    service::create_token(tx, ctx, draft).map_err(flag_names)
                })?;
                println!("{}", created.token);
                Ok(ExitCode::SUCCESS)
            }
            TokenCommand::List { db, format, now } => {
                let now = cli_now(now.as_deref())?;
                let opened = db.open(false)?;
                let tokens = opened
                    .db
                    .read(|r| service::list_tokens(r, &service::cli_actor(), now))
                    .map_err(lib_err)?;
                let out = match format.as_str() {
                    "json" => format!(
                        "{}\n",
                        serde_json::to_string(&serde_json::json!({ "items": tokens }))?
                    ),
                    _ => token_table(&tokens),
                };
                std::io::stdout().lock().write_all(out.as_bytes())?;
                Ok(ExitCode::SUCCESS)
            }
            TokenCommand::Revoke { db, name } => {
                let opened = db.open(false)?;
                let revoked = name.clone();
                cli_write(&opened, move |tx, ctx| {
                    service::revoke_token(tx, ctx, &revoked)
                })?;
                eprintln!("token {name} revoked");
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Review {
            command: Some(command),
            ..
        } => review_campaigns(command),
        Command::Review {
            command: None,
            db,
            format,
            within,
            rotation_age,
            unused_for,
            now: at,
        } => {
            let q = std::collections::HashMap::from([
                ("within".to_string(), within),
                ("rotation_age".to_string(), rotation_age),
                ("unused_for".to_string(), unused_for),
            ]);
            let params = partner_registry::handlers::review_params(&q).map_err(lib_err)?;
            let at = cli_now(at.as_deref())?;
            let opened = db.open(false)?;
            let review = opened
                .db
                .read(|r| service::review(r, &service::cli_actor(), at, Ok(params)))
                .map_err(lib_err)?;
            let out = match format.as_str() {
                "json" => format!("{}\n", serde_json::to_string(&review)?),
                "markdown" => review::markdown(&review),
                _ => review::text(&review),
            };
            std::io::stdout().lock().write_all(out.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Approve {
            db,
            token,
            change_ref,
            resource,
            attribute,
            old,
            new,
            expires_in,
            format,
            now: at,
        } => {
            // The flags as the API's body, so that both refuse alike.
            let flags = serde_json::json!({
                "resource": resource, "attribute": attribute, "old": old, "new": new,
                "expires_in": expires_in,
            });
            let draft = parse_flags(flags, partner_registry::approvals::ApprovalDraft::parse)?;
            let at = cli_now(at.as_deref())?;
            let opened = db.open(false)?;
            let key = opened.key.clone();
            let actor = opened
                .db
                .read(|r| service::authenticate(r, &key, &token, at))
                .map_err(|_| anyhow::anyhow!("--token is not a live API token of this registry"))?;
            let approval = cli_write_as(&opened, actor, Some(change_ref), at, move |tx, ctx| {
                service::create_approval(tx, ctx, draft).map_err(flag_names)
            })?;
            let out = match format.as_str() {
                "json" => format!("{}\n", serde_json::to_string(&approval.view(at))?),
                _ => format!(
                    "Approved {} ({}) of {} {} from {:?} to {:?} for change {}, by {}; valid until {}, once.\n",
                    approval.attribute,
                    approval.id,
                    approval.entity_kind,
                    approval.entity_id,
                    approval.old,
                    approval.new,
                    approval.change_ref,
                    approval.approver,
                    partner_registry::records::fmt_ts(approval.expires_at)
                ),
            };
            std::io::stdout().lock().write_all(out.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BlastRadius {
            db,
            owner,
            org_id,
            operated_by,
            scope,
            format,
            revoke,
            change_ref,
            now: at,
        } => {
            // The flags as the API's filters, so that both refuse alike.
            let flags = serde_json::json!({
                "owner": owner, "org_id": org_id, "operated_by": operated_by, "scope": scope,
            });
            let query = parse_flags(flags, partner_registry::blast_radius::Query::parse)?;
            let at = cli_now(at.as_deref())?;
            let opened = db.open(false)?;
            let radius = if revoke {
                cli_write_at(&opened, change_ref, at, move |tx, ctx| {
                    service::revoke_blast_radius(tx, ctx, query)
                })?
            } else {
                opened
                    .db
                    .read(|r| service::blast_radius(r, &service::cli_actor(), at, Ok(query)))
                    .map_err(lib_err)?
            };
            let out = match format.as_str() {
                "json" => format!("{}\n", serde_json::to_string(&radius)?),
                _ => partner_registry::blast_radius::text(&radius),
            };
            std::io::stdout().lock().write_all(out.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify { db },
        } => {
            // The server's own key: a new one would only prove that nothing verifies.
            let opened = db.open(false)?;
            // The anchor first: it never runs ahead of what the database holds.
            let anchor = opened
                .anchor
                .as_ref()
                .map_or(AnchorRead::NotKept, |a| a.read());
            let check = opened
                .db
                .read(|r| partner_registry::audit::verify(r, &opened.key, &anchor))
                .map_err(lib_err)?;
            match check {
                AuditCheck::Intact(n) => {
                    println!("audit chain intact: {n} events");
                    Ok(ExitCode::SUCCESS)
                }
                AuditCheck::Broken { seq, reason } => {
                    eprintln!("audit chain broken at sequence number {seq}: {reason}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Storage {
            command: StorageCommand::Copy { from, to, key_file },
        } => {
            let Target::Postgres(_) = Target::parse(&to) else {
                bail!("--to must be a postgres:// or postgresql:// URL");
            };
            let source = partner_registry::open(
                &Target::Sqlite(from.clone()),
                key_file.as_deref(),
                None,
                false,
            )
            .map_err(lib_err)?;
            let counts =
                partner_registry::db::copy::sqlite_to_postgres(&source, &to).map_err(lib_err)?;
            eprintln!(
                "copied {} into {}: {counts}",
                from.display(),
                Target::parse(&to).describe()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn serve(
    listen: SocketAddr,
    db: DbArg,
    fake_clock: Option<String>,
    limits: partner_registry::server::Limits,
    tls: Option<partner_registry::tls::TlsFiles>,
    metrics_listen: Option<SocketAddr>,
    assertion_audience: Option<String>,
) -> anyhow::Result<ExitCode> {
    if tls.is_none() && !listen.ip().is_loopback() {
        tracing::warn!(
            "serving plain HTTP on {listen}, which is not a loopback address: API tokens and \
             client secrets cross the network readable. Give --tls-cert and --tls-key, or put a \
             TLS-terminating proxy in front."
        );
    }
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
        // Listen for SIGTERM before saying "listening": a stop sent right
        // after that line must still shut down cleanly.
        let shutdown = shutdown_signal();
        let running = partner_registry::start(
            Config {
                listen,
                db: db.target(),
                key_file: db.key_file,
                audit_anchor: db.audit_anchor,
                access_log: std::env::var("PARTNER_REGISTRY_ACCESS_LOG")
                    .map(|v| v != "0")
                    .unwrap_or(true),
                write_batch: partner_registry::db::MAX_BATCH,
                limits,
                tls,
                metrics_listen,
                assertion_audience,
            },
            clock,
        )
        .await
        .map_err(lib_err)?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}://{}", running.scheme, running.addr)?;
            if let Some(at) = running.metrics_addr {
                writeln!(out, "metrics on http://{at}/metrics")?;
            }
            out.flush()?;
        }
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight");
        running.shutdown().await;
        tracing::info!("database closed");
        Ok(ExitCode::SUCCESS)
    })
}

/// SIGTERM or Ctrl-C; SIGTERM's handler is installed at once, when this is
/// called, not when the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        {
            match term {
                Some(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {},
                        _ = term.recv() => {},
                    }
                }
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
