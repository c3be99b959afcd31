//! `scimitar token create|list|revoke`: managing tenants' SCIM API tokens from
//! an admin's laptop, with the admin's kubeconfig. Tokens are Secrets in the
//! operator's namespace (see [`crate::auth::token`]); the operator picks up
//! changes within about a second.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store`, `controller`,
//! `http`, `console`, `leader` and its own layer (the top layer;
//! tests/e2e/imports_follow_the_layers.rs).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::auth::Scope;
use crate::auth::token;
use crate::crd::ScimTenant;
use crate::store::kube::token_secrets::{self, NewToken};

/// `scimitar token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
    /// Kubeconfig file; without it, `KUBECONFIG` or `~/.kube/config` is used.
    #[arg(long, env = "SCIMITAR_KUBECONFIG", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, env = "SCIMITAR_CONTEXT", global = true)]
    pub context: Option<String>,
    /// The operator's namespace, where token Secrets are kept.
    #[arg(
        long,
        env = "SCIMITAR_NAMESPACE",
        default_value = "scimitar-system",
        global = true
    )]
    pub namespace: String,
}

/// What to do with tokens.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (once: it cannot be shown again).
    Create {
        /// The tenant the token belongs to.
        #[arg(long)]
        tenant: String,
        /// A name saying who uses it, e.g. "JumpCloud SCIM".
        #[arg(long)]
        name: String,
        /// Lifetime, e.g. `90d`, `12h`; no expiry without it.
        #[arg(long)]
        expires: Option<String>,
        /// What it may do: `scim` (the default), `logs`, or both (repeat the flag).
        #[arg(long = "scope", default_values = ["scim"])]
        scopes: Vec<String>,
    },
    /// List tokens (never their values).
    List {
        /// Only this tenant's tokens.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a token by its id (as `list` shows it).
    Revoke {
        /// The token's id.
        id: String,
    },
}

/// Runs a `token` subcommand; output goes to stdout.
pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let client = crate::kubeclient::client(args.kubeconfig.as_deref(), args.context.as_deref())
        .await
        .context("connecting to the Kubernetes API server")?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &args.namespace);
    match args.command {
        TokenCommand::Create {
            tenant,
            name,
            expires,
            scopes,
        } => {
            create(
                &client,
                &secrets,
                &args.namespace,
                tenant,
                name,
                expires,
                scopes,
            )
            .await
        }
        TokenCommand::List { tenant } => list(&secrets, tenant.as_deref()).await,
        TokenCommand::Revoke { id } => revoke(&secrets, &id).await,
    }
}

async fn create(
    client: &Client,
    secrets: &Api<Secret>,
    namespace: &str,
    tenant: String,
    name: String,
    expires: Option<String>,
    scopes: Vec<String>,
) -> anyhow::Result<()> {
    let tenants: Api<ScimTenant> = Api::all(client.clone());
    let Some(found) = tenants.get_opt(&tenant).await? else {
        bail!("there is no ScimTenant named {tenant:?}");
    };
    let tenant_uid = found
        .metadata
        .uid
        .with_context(|| format!("ScimTenant {tenant:?} has no uid"))?;
    let scopes: BTreeSet<Scope> = scopes
        .iter()
        .flat_map(|s| s.split(','))
        .map(|s| Scope::parse(s).with_context(|| format!("unknown scope {s:?} (scim or logs)")))
        .collect::<anyhow::Result<_>>()?;
    let lifetime = expires
        .map(|text| {
            token::parse_lifetime(&text)
                .with_context(|| format!("--expires {text:?}: use e.g. 90d, 12h, 30m"))
        })
        .transpose()?;
    let new = NewToken {
        tenant,
        tenant_uid,
        name,
        scopes,
        lifetime,
    };
    let (record, value) = token_secrets::issue(secrets, namespace, new)
        .await
        .with_context(|| format!("creating the token Secret in namespace {namespace}"))?;
    eprintln!(
        "Created token {} for tenant {}{}. It is shown once; store it in your identity provider now:",
        record.id,
        record.tenant,
        record
            .expires
            .map(|e| format!(", valid until {e}"))
            .unwrap_or_default()
    );
    println!("{value}");
    Ok(())
}

async fn list(secrets: &Api<Secret>, tenant: Option<&str>) -> anyhow::Result<()> {
    let records = token_secrets::list(secrets, tenant).await?;
    let now = jiff::Timestamp::now();
    let time = |t: Option<jiff::Timestamp>| t.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
    let mut rows = vec![[
        "ID".to_owned(),
        "TENANT".into(),
        "NAME".into(),
        "SCOPES".into(),
        "CREATED".into(),
        "EXPIRES".into(),
        "LAST USED".into(),
    ]];
    for r in &records {
        let scopes: Vec<&str> = r.scopes.iter().map(|s| s.as_str()).collect();
        let expires = match r.expires {
            Some(e) if !r.is_valid_at(now) => format!("{e} (expired)"),
            other => time(other),
        };
        rows.push([
            r.id.clone(),
            r.tenant.clone(),
            r.name.clone(),
            scopes.join(","),
            time(r.created),
            expires,
            time(r.last_used),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("   ").trim_end());
    }
    Ok(())
}

async fn revoke(secrets: &Api<Secret>, id: &str) -> anyhow::Result<()> {
    let record = token_secrets::revoke(secrets, id, None).await?;
    println!(
        "Revoked token {} ({}) of tenant {}.",
        record.id, record.name, record.tenant
    );
    Ok(())
}
