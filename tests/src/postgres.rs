//! A throwaway PostgreSQL cluster for tests: Debian's `postgresql` package,
//! `initdb` into a temporary folder (as the `postgres` user when the tests run
//! as root, since the server refuses root), listening on a free loopback port.
//!
//! `make test` installs the package when `initdb` is missing
//! (`tools/ensure-postgres.sh`); a test that needs PostgreSQL and finds none
//! fails, it never skips.
//!
//! A watchdog process stops the cluster and removes its folder once the test
//! process has exited, so a crashed test run leaves no server behind.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::{Run, run};

/// One running cluster.
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

/// The folder of PostgreSQL's server programs (`initdb`, `pg_ctl`, …).
fn bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|bin| bin.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL's server programs are missing (no /usr/lib/postgresql/*/bin/initdb): \
             run tools/ensure-postgres.sh (make test does)"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl PgCluster {
    /// The cluster shared by every test of this test process.
    pub fn shared() -> &'static PgCluster {
        static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
        CLUSTER.get_or_init(PgCluster::start)
    }

    /// Starts a cluster of its own (for tests that restart it).
    pub fn start() -> PgCluster {
        let bin = bindir();
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!(
            "partner-registry-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("cluster folder");
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir))
            .assert_success();
        }
        let cluster = PgCluster {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        cluster
            .server_command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(cluster.data())
            .output()
            .map(|o| {
                assert!(
                    o.status.success(),
                    "initdb failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .expect("initdb runs");
        cluster.pg_ctl(&["start", "-w"]).assert_success();
        cluster.watch();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A command running one of PostgreSQL's programs as the server's user.
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Run {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            self.port,
            self.dir.display()
        );
        run(self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-o", &options])
            .args(args))
    }

    /// Stops the cluster and removes it once this process has exited.
    // The watchdog outlives this process on purpose: nothing here waits for it.
    #[allow(clippy::zombie_processes)]
    fn watch(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            stop = self.server_program_line("pg_ctl"),
            data = self.data().display(),
            dir = self.dir.display(),
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("cluster watchdog");
    }

    fn server_program_line(&self, program: &str) -> String {
        let path = self.bin.join(program);
        if self.as_postgres {
            format!("runuser -u postgres -- {}", path.display())
        } else {
            path.display().to_string()
        }
    }

    /// A fresh, empty database; its URL.
    pub fn new_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "registry_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .assert_success();
        self.url(&name)
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs one SQL statement (or several, `;`-separated) with `psql`.
    pub fn psql(&self, database: &str, sql: &str) -> Run {
        run(self.psql_command(database).args(["-c", sql]))
    }

    /// A `psql` session on `database` reading SQL from its piped stdin and
    /// writing rows (unaligned, tuples only) to its piped stdout: for a test
    /// that holds a transaction open while it watches the registry.
    pub fn session(&self, database: &str) -> std::process::Child {
        self.psql_command(database)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("psql session")
    }

    fn psql_command(&self, database: &str) -> Command {
        let mut command = Command::new(self.bin.join("psql"));
        command
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
            ]);
        command
    }

    /// Every row of `database` as `pg_dump` writes it.
    pub fn dump(&self, database: &str) -> String {
        let out = run(Command::new(self.bin.join("pg_dump"))
            .args(["--data-only", "-h", "127.0.0.1"])
            .args(["-p", &self.port.to_string(), "-U", "postgres", database]));
        out.assert_success();
        out.stdout
    }

    /// A fast restart (`pg_ctl restart -m fast`): every connection is cut.
    pub fn restart(&self) -> Run {
        self.pg_ctl(&["restart", "-m", "fast", "-w"])
    }

    /// Stops the server (fast) until [`PgCluster::start_again`].
    pub fn stop(&self) -> Run {
        self.pg_ctl(&["stop", "-m", "fast", "-w"])
    }

    pub fn start_again(&self) -> Run {
        self.pg_ctl(&["start", "-w"])
    }

    /// The folder the cluster lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The database name of a URL made by [`PgCluster::new_database`].
pub fn database_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}
