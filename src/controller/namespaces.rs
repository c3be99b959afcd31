//! Creating the namespaces a tenant's group patterns derive, when the
//! cluster admin allowed it (`--namespace-creation`) and the tenant lists
//! them (`spec.derivedNamespaces.create`). The pure rules decide which
//! names may be created ([`super::desired::mapping::may_create`]); here the
//! count budget is kept, against the namespaces labelled as created for the
//! tenant. Created namespaces are labelled, never owned by the tenant and
//! never deleted: deleting a namespace deletes whatever runs in it.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::{Api, ResourceExt};

use super::apply::{Applied, Change, with_timeout};
use super::context::Context;
use super::desired::Problem;
use crate::crd::ScimTenant;
use crate::meta::{CREATED_FOR_LABEL, MANAGED_BY, MANAGER, label_value};

/// Reasons of the problems reported here.
pub mod reason {
    /// The tenant wants namespaces created; the operator may not.
    pub const CREATION_DISABLED: &str = "NamespaceCreationDisabled";
    /// The tenant's count budget of created namespaces is spent.
    pub const BUDGET_EXCEEDED: &str = "NamespaceBudgetExceeded";
    /// The API server refused a creation.
    pub const CREATION_FAILED: &str = "NamespaceCreationFailed";
}

/// Names listed in one problem's message.
const NAMED: usize = 5;

/// What creating namespaces did.
#[derive(Default)]
pub struct Created {
    pub applied: Applied,
    pub problems: Vec<Problem>,
}

fn listed(names: &[&String]) -> String {
    let shown: Vec<&str> = names.iter().take(NAMED).map(|n| n.as_str()).collect();
    match names.len().saturating_sub(NAMED) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Creates those of `wanted` that do not exist, within the tenant's budget.
pub async fn create(
    ctx: &Context,
    tenant: &ScimTenant,
    existing: &BTreeSet<String>,
    wanted: BTreeSet<String>,
) -> Created {
    let mut out = Created::default();
    let missing: Vec<&String> = wanted.iter().filter(|n| !existing.contains(*n)).collect();
    if missing.is_empty() {
        return out;
    }
    let tenant_name = tenant.name_any();
    if !ctx.namespace_creation {
        out.problems.push(Problem {
            reason: reason::CREATION_DISABLED,
            message: format!(
                "tenant {tenant_name:?} would create namespace(s) {}, but the operator runs \
                 without namespace creation (the chart's namespaceCreation.enabled)",
                listed(&missing)
            ),
        });
        return out;
    }
    let label = label_value(&tenant_name);
    let budget = tenant.spec.derived_namespaces.create.max_count as usize;
    let mut count = ctx
        .namespaces
        .state()
        .iter()
        .filter(|n| n.labels().get(CREATED_FOR_LABEL) == Some(&label))
        .count();
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    for (index, name) in missing.iter().enumerate() {
        if count >= budget {
            out.problems.push(Problem {
                reason: reason::BUDGET_EXCEEDED,
                message: format!(
                    "tenant {tenant_name:?} has {count} namespace(s) created for it, its \
                     derivedNamespaces.create.maxCount; not created: {}",
                    listed(&missing[index..])
                ),
            });
            break;
        }
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some((*name).clone()),
                labels: Some(BTreeMap::from([
                    (MANAGED_BY.to_owned(), MANAGER.to_owned()),
                    (CREATED_FOR_LABEL.to_owned(), label.clone()),
                ])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        match with_timeout(api.create(&PostParams::default(), &namespace)).await {
            Ok(_) => {
                count += 1;
                out.applied
                    .changes
                    .push(Change::Created(format!("Namespace {name}")));
            }
            // Made meanwhile by someone else: it is theirs, not counted.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(kube::Error::Api(e)) if e.code == 403 => {
                out.problems.push(Problem {
                    reason: reason::CREATION_FAILED,
                    message: format!(
                        "creating namespace {name:?} for tenant {tenant_name:?} was refused: {}",
                        e.message
                    ),
                });
            }
            Err(error) => out
                .applied
                .failures
                .push(format!("creating namespace {name}: {error}")),
        }
    }
    out
}
