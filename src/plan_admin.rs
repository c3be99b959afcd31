//! `scimitar plan` and `scimitar access-report`: what a changed ScimTenant
//! would change, and who has what now, from the admin's kubeconfig. Both use
//! the controller's own pure code ([`crate::controller::plan`],
//! [`crate::controller::access_report`]) over what
//! [`crate::controller::live`] reads.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store`, `controller`,
//! `http`, `console`, `leader` and its own layer (the top layer;
//! tests/e2e/imports_follow_the_layers.rs).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use kube::{Api, Client};

use crate::controller::access_report;
use crate::controller::live::{self, BindCheck};
use crate::controller::manifest::parse_tenant;
use crate::controller::plan::{self, Diff};
use crate::crd::ScimTenant;

/// Kubeconfig flags shared by both commands.
#[derive(Debug, Clone, Args)]
pub struct KubeArgs {
    /// Kubeconfig file; without it, `KUBECONFIG` or `~/.kube/config` is used.
    #[arg(long, env = "SCIMITAR_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, env = "SCIMITAR_CONTEXT")]
    pub context: Option<String>,
}

/// Settings of `scimitar plan`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// The tenant to plan for (the live one); with `--file`, the file's
    /// tenant must have this name.
    #[arg(long)]
    pub tenant: Option<String>,
    /// A ScimTenant manifest (YAML or JSON; `-` reads stdin) to plan
    /// instead of the live spec. Without it, the live spec is planned
    /// against the bindings that exist (drift shows as changes).
    #[arg(long, short)]
    pub file: Option<PathBuf>,
    /// Output: `text` for people, `json` for CI gates.
    #[arg(long, short, value_enum, default_value = "text")]
    pub output: PlanOutput,
    /// The operator's ServiceAccount as `namespace:name` (the chart's is
    /// `<release namespace>:<release name>`). Whether a role may be bound
    /// is asked of the API server for it, not for you.
    #[arg(
        long,
        env = "SCIMITAR_OPERATOR_SERVICE_ACCOUNT",
        default_value = "scimitar-system:scimitar"
    )]
    pub operator_service_account: String,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Forms of `scimitar plan`'s output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    Text,
    Json,
}

/// Settings of `scimitar access-report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// Output form.
    #[arg(long, short, value_enum, default_value = "table")]
    pub output: ReportOutput,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Forms of `scimitar access-report`'s output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportOutput {
    Table,
    Csv,
    Json,
}

async fn client(kube: &KubeArgs) -> anyhow::Result<Client> {
    crate::kubeclient::client(kube.kubeconfig.as_deref(), kube.context.as_deref())
        .await
        .context("connecting to the Kubernetes API server")
}

/// `namespace:name` of a ServiceAccount.
fn service_account(text: &str) -> anyhow::Result<BindCheck> {
    match text.split_once(':') {
        Some((namespace, name))
            if !namespace.is_empty() && !name.is_empty() && !name.contains(':') =>
        {
            Ok(BindCheck::ServiceAccount {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })
        }
        _ => bail!("--operator-service-account {text:?}: expected namespace:name"),
    }
}

fn read_manifest(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading stdin")
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Computes the plan `args` ask for.
pub async fn plan(args: &PlanArgs) -> anyhow::Result<Diff> {
    let check = service_account(&args.operator_service_account)?;
    let from_file = args
        .file
        .as_deref()
        .map(|path| parse_tenant(&read_manifest(path)?))
        .transpose()?;
    let name = match (&args.tenant, &from_file) {
        (Some(flag), Some(file)) if file.metadata.name.as_deref() != Some(flag.as_str()) => {
            bail!(
                "--tenant {flag:?} but the file's tenant is {:?}",
                file.metadata.name.as_deref().unwrap_or_default()
            )
        }
        (Some(flag), _) => flag.clone(),
        (None, Some(file)) => file.metadata.name.clone().unwrap_or_default(),
        (None, None) => bail!("give --tenant, --file or both"),
    };
    let client = client(&args.kube).await?;
    let current = Api::<ScimTenant>::all(client.clone())
        .get_opt(&name)
        .await
        .with_context(|| format!("reading ScimTenant {name:?}"))?;
    let mut new = match (from_file, &current) {
        (Some(file), _) => file,
        (None, Some(current)) => current.clone(),
        (None, None) => bail!("no ScimTenant {name:?}"),
    };
    // The directory is the one the tenant owns (same uid) in the namespace
    // the new spec names.
    new.metadata.uid = current.as_ref().and_then(|c| c.metadata.uid.clone());
    let (users, groups) = live::directory(&client, &new).await?;
    live::plan(&client, current.as_ref(), &new, &check, &users, &groups).await
}

/// Prints the plan to stdout.
pub async fn run_plan(args: PlanArgs) -> anyhow::Result<()> {
    let diff = plan(&args).await?;
    match args.output {
        PlanOutput::Text => print!("{}", plan::text(&diff)),
        PlanOutput::Json => println!("{}", serde_json::to_string_pretty(&diff)?),
    }
    Ok(())
}

/// Prints the access report to stdout.
pub async fn run_report(args: ReportArgs) -> anyhow::Result<()> {
    let client = client(&args.kube).await?;
    let tenant = Api::<ScimTenant>::all(client.clone())
        .get_opt(&args.tenant)
        .await?
        .with_context(|| format!("no ScimTenant {:?}", args.tenant))?;
    let (users, groups) = live::directory(&client, &tenant).await?;
    let rows = live::access_report(&client, &tenant, &users, &groups).await?;
    match args.output {
        ReportOutput::Table => print!("{}", access_report::table(&rows)),
        ReportOutput::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        ReportOutput::Csv => {
            let csv = access_report::csv(&rows, usize::MAX).context("writing CSV")?;
            use std::io::Write as _;
            std::io::stdout().write_all(&csv)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_account_is_namespace_and_name() {
        assert_eq!(
            service_account("scimitar-system:scimitar").unwrap(),
            BindCheck::ServiceAccount {
                namespace: "scimitar-system".into(),
                name: "scimitar".into()
            }
        );
        for bad in ["scimitar", ":x", "x:", "a:b:c"] {
            assert!(service_account(bad).is_err(), "{bad}");
        }
    }
}
