//! The `scimitar` binary: a thin wrapper over the library.

/// See Cargo.toml: the operator allocates and frees heavily per reconcile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use scimitar::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds(args) => match args.output_dir {
            Some(dir) => scimitar::crd::write_all(&dir),
            None => {
                print!("{}", scimitar::crd::all_yaml());
                Ok(())
            }
        },
        Command::Serve(args) => {
            scimitar::telemetry::init(cli.log_format);
            scimitar::serve::serve(args).await
        }
        Command::Token(args) => scimitar::token_admin::run(args).await,
        Command::Run(args) => {
            scimitar::telemetry::init(cli.log_format);
            scimitar::operator::run(args).await
        }
    }
}
