//! JSON-lines logging on stderr in the hclog format Terraform reads from
//! plugins (`@level`, `@message`, `@timestamp`, `@module`), so that
//! `TF_LOG=debug terraform plan` shows provider logs. The level comes from
//! `TF_LOG_PROVIDER`, else `TF_LOG`; off when neither is set.
use std::io::Write;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Off = 5,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Off => "off",
        }
    }
    /// Parses a TF_LOG value; any unrecognised non-empty value (Terraform
    /// treats e.g. `1` or `JSON` as trace) means trace.
    pub fn parse(s: &str) -> Level {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "off" => Level::Off,
            "error" => Level::Error,
            "warn" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            _ => Level::Trace,
        }
    }
}

static LEVEL: OnceLock<Level> = OnceLock::new();
static MODULE: OnceLock<&'static str> = OnceLock::new();

/// Names the provider in every line's `@module` (`provider.<name>`), as
/// Terraform's own providers do; `serve` sets it once at startup.
pub fn set_module(name: &'static str) {
    let _ = MODULE.set(name);
}

/// The `@module` suffix set by [`set_module`].
pub fn module() -> &'static str {
    MODULE.get().copied().unwrap_or("plugin")
}

pub fn level() -> Level {
    *LEVEL.get_or_init(|| {
        let v = std::env::var("TF_LOG_PROVIDER")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| std::env::var("TF_LOG").ok())
            .unwrap_or_default();
        Level::parse(&v)
    })
}

pub fn enabled(l: Level) -> bool {
    l >= level() && level() != Level::Off
}

/// Formats one log line (without the newline).
pub fn format_line(l: Level, module: &str, msg: &str, fields: &[(&str, &str)]) -> String {
    // hclog's layout: 2006-01-02T15:04:05.000000Z07:00
    let ts = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
        .unwrap_or_default();
    let mut m = serde_json::Map::new();
    m.insert("@level".into(), l.as_str().into());
    m.insert("@message".into(), msg.into());
    m.insert("@module".into(), format!("provider.{module}").into());
    m.insert("@timestamp".into(), ts.into());
    for (k, v) in fields {
        m.insert((*k).into(), (*v).into());
    }
    serde_json::Value::Object(m).to_string()
}

/// Writes one log line to stderr if the level is enabled.
pub fn log(l: Level, module: &str, msg: &str, fields: &[(&str, &str)]) {
    if !enabled(l) {
        return;
    }
    let mut line = format_line(l, module, msg, fields);
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[macro_export]
macro_rules! log_at {
    ($lvl:expr, $($arg:tt)*) => {
        if $crate::logging::enabled($lvl) {
            $crate::logging::log($lvl, $crate::logging::module(), &format!($($arg)*), &[]);
        }
    };
}
#[macro_export]
macro_rules! debug { ($($arg:tt)*) => { $crate::log_at!($crate::logging::Level::Debug, $($arg)*) }; }
#[macro_export]
macro_rules! info { ($($arg:tt)*) => { $crate::log_at!($crate::logging::Level::Info, $($arg)*) }; }
#[macro_export]
macro_rules! warn { ($($arg:tt)*) => { $crate::log_at!($crate::logging::Level::Warn, $($arg)*) }; }
#[macro_export]
macro_rules! trace { ($($arg:tt)*) => { $crate::log_at!($crate::logging::Level::Trace, $($arg)*) }; }
#[macro_export]
macro_rules! error { ($($arg:tt)*) => { $crate::log_at!($crate::logging::Level::Error, $($arg)*) }; }
