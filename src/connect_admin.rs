//! `scimitar connect --tenant T`: what kube-apiserver and people's
//! kubeconfigs need so that the subjects a tenant's bindings name can sign
//! in with its identity provider, from the live ScimTenant. The same text as
//! the console's Connect page (`console::connect`), for admins who configure
//! the API server from a script.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store`, `controller`,
//! `http`, `console`, `leader` and its own layer (the top layer;
//! tests/e2e/imports_follow_the_layers.rs).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use kube::Api;

use crate::console::connect;
use crate::crd::ScimTenant;

/// Settings of `scimitar connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// The tenant (its `spec.oidc` names the issuer and client).
    #[arg(long)]
    pub tenant: String,
    /// What to print.
    #[arg(long, short, value_enum, default_value = "authentication-config")]
    pub output: ConnectOutput,
    /// PEM file of the CA that signs the issuer's certificate, written into
    /// the AuthenticationConfiguration (`issuer.certificateAuthority`) for an
    /// issuer the API server's own trust store does not know.
    #[arg(long)]
    pub certificate_authority: Option<PathBuf>,
    /// Kubeconfig file; without it, `KUBECONFIG` or `~/.kube/config` is used.
    #[arg(long, env = "SCIMITAR_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, env = "SCIMITAR_CONTEXT")]
    pub context: Option<String>,
}

/// The forms the Connect page shows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ConnectOutput {
    /// kube-apiserver's `--authentication-config` file (Kubernetes 1.34+).
    AuthenticationConfig,
    /// kube-apiserver's `--oidc-*` flags.
    Flags,
    /// The kubeconfig user for people of the tenant (kubelogin).
    Kubeconfig,
}

/// Prints the chosen form for the tenant to stdout.
pub async fn run(args: ConnectArgs) -> anyhow::Result<()> {
    let client = crate::kubeclient::client(args.kubeconfig.as_deref(), args.context.as_deref())
        .await
        .context("connecting to the Kubernetes API server")?;
    let tenant = Api::<ScimTenant>::all(client)
        .get_opt(&args.tenant)
        .await?
        .with_context(|| format!("no ScimTenant {:?}", args.tenant))?;
    let Some(oidc) = &tenant.spec.oidc else {
        bail!(
            "ScimTenant {} has no spec.oidc: nothing signs its people in",
            args.tenant
        );
    };
    let text = match args.output {
        ConnectOutput::AuthenticationConfig => {
            let config = connect::authentication_config(&tenant, oidc);
            match &args.certificate_authority {
                Some(path) => with_ca(
                    &config,
                    &std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?,
                )?,
                None => config,
            }
        }
        ConnectOutput::Flags => connect::apiserver_flags(&tenant, oidc) + "\n",
        ConnectOutput::Kubeconfig => connect::kubeconfig(&args.tenant, oidc),
    };
    print!("{text}");
    Ok(())
}

/// The AuthenticationConfiguration `config` with `pem` as every issuer's CA.
fn with_ca(config: &str, pem: &str) -> anyhow::Result<String> {
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        bail!("the certificate authority file holds no PEM certificate");
    }
    let mut value: serde_json::Value = serde_yaml::from_str(config)?;
    for jwt in value["jwt"].as_array_mut().into_iter().flatten() {
        jwt["issuer"]["certificateAuthority"] = pem.into();
    }
    Ok(serde_yaml::to_string(&value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_goes_into_every_issuer() {
        let config = "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: https://idp.example\n    audiences: [scimitar]\n  claimMappings:\n    username: {claim: email, prefix: 'oidc:'}\n";
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let out: serde_json::Value = serde_yaml::from_str(&with_ca(config, pem).unwrap()).unwrap();
        assert_eq!(out["jwt"][0]["issuer"]["certificateAuthority"], pem);
        assert_eq!(out["jwt"][0]["issuer"]["url"], "https://idp.example");
        assert_eq!(
            out["jwt"][0]["claimMappings"]["username"]["prefix"],
            "oidc:"
        );
        assert!(with_ca(config, "not a certificate").is_err());
    }
}
