//! Tracing set-up, once, for the whole process. `RUST_LOG` overrides the
//! default filter.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the subscriber. A second call (tests that start several
/// servers in one process) keeps the first one: `false` then.
pub fn init(format: LogFormat) -> bool {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,socketioxide=warn,engineioxide=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.is_ok()
}
