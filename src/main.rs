//! The `scimitar` binary: a thin wrapper over the library.

/// See Cargo.toml: the operator allocates and frees heavily per reconcile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use scimitar::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    without_huge_pages();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

/// Transparent huge pages make every 2 MiB the allocator touches resident
/// at once; mimalloc asks for them on its arenas. For a heap of many small
/// objects that is memory held for nothing: without them the idle operator
/// fell from 37 to 22 MiB, and its peak at 5,000 users from 113 to 74 MiB
/// (docs/performance.md). `MIMALLOC_ALLOW_THP=1` keeps them.
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches only
        // this process's memory policy.
        let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
}

async fn run() -> anyhow::Result<()> {
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
        Command::Probe(args) => scimitar::probe::run(args).await,
        Command::Replay(args) => scimitar::replay::run_cli(args).await,
        Command::Connect(args) => scimitar::connect_admin::run(args).await,
        Command::Plan(args) => scimitar::plan_admin::run_plan(args).await,
        Command::AccessReport(args) => scimitar::plan_admin::run_report(args).await,
        Command::Run(args) => {
            scimitar::telemetry::init(cli.log_format);
            scimitar::operator::run(*args).await
        }
    }
}
