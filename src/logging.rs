//! Logging setup: tracing with `RUST_LOG`-style filters, as text or JSON lines.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. The filter is `configured` when set,
/// else `RUST_LOG`, else `info`. Logs go to stderr so stdout stays for
/// command output (JSON results, reports); colours only on a terminal, so
/// a log file or journal gets plain text.
pub fn init(format: LogFormat, configured: &str) {
    let filter = if configured.is_empty() {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
    } else {
        EnvFilter::new(configured)
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
