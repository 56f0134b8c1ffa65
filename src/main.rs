//! `switchboard`: parse the configuration, set up logging, run.

use clap::Parser;
use switchboard::auth::{KeySource, Verifier};
use switchboard::config::{Cli, Command};
use switchboard::startup::Application;
use switchboard::{db, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.server.log_format);
    match cli.command {
        None => {
            let app = Application::build(cli.server).await?;
            app.run_until(shutdown::signal()).await
        }
        Some(Command::Migrate) => {
            let db = db::connect(&cli.server).await?;
            db::migrate(&db.writer).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Some(Command::Token(args)) => {
            let (verifier, source) = Verifier::from_config(&cli.server)?;
            if matches!(source, KeySource::Generated(_)) {
                anyhow::bail!(
                    "no JWT_SECRET configured: set JWT_SECRET (or --jwt-secret) to mint a token"
                );
            }
            let token = verifier
                .mint(
                    &args.sub,
                    args.role.as_str(),
                    args.name.as_deref(),
                    args.tenant.as_deref(),
                    args.ttl_seconds,
                )
                .ok_or_else(|| anyhow::anyhow!("tokens can only be minted with an HS256 secret"))?;
            println!("{token}");
            Ok(())
        }
    }
}
