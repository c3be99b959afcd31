//! userName anchors on the real API server: what a SCIM create costs in API
//! writes, and a user deleted outside SCIM giving its userName up at once
//! while a live user's name stays taken.

use scimitar::scim::schema::PATCH_OP_URN;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::operator::{
    OPERATOR_NAMESPACE, Operator, Scim, create_tenant, operator_kubeconfig, until,
};
use crate::support::{ControlPlane, install_crds, namespace};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::client::ClientBuilder;
use kube::config::Kubeconfig;
use scimitar::crd::{ScimTenantSpec, ScimUser};
use scimitar::http::scim::{self, ScimState, StaticTokens, normalize_path};
use scimitar::scim::discovery::ServiceProviderConfig;
use scimitar::store::kube::KubeStore;
use scimitar::store::kube::anchor::{IN_FLIGHT, anchor_name};
use scimitar::store::kube::secrets::SecretPolicy;
use scimitar::store::kube::tenants::Tenants;
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

const TOKEN: &str = "in-process-token";

fn user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Robin", "familyName": "Jensen"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    })
}

async fn tenant(prefix: &str) -> (kube::Client, String, String) {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, prefix).await;
    let spec: ScimTenantSpec =
        serde_json::from_value(json!({"namespace": home, "provider": "generic"})).expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    (admin, home, token)
}

async fn anchor(admin: &kube::Client, namespace: &str, user_name: &str) -> Option<Lease> {
    Api::<Lease>::namespaced(admin.clone(), namespace)
        .get_opt(&anchor_name(user_name))
        .await
        .expect("reading the anchor")
}

fn holder(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref()
}

/// The store as the operator runs it (the operator's credentials, under the
/// chart's RBAC and admission policy), in this process, with a client that
/// records every request that is not a read. A SCIM POST /Users goes through
/// the real SCIM router to it.
#[tokio::test]
async fn a_user_create_makes_two_api_writes() {
    let cp = ControlPlane::shared();
    let (admin, home, _) = tenant("writes").await;

    let kubeconfig = Kubeconfig::read_from(operator_kubeconfig(cp)).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("operator config");
    let writes: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorded = writes.clone();
    let counting =
        tower::util::MapRequestLayer::new(move |request: Request<kube::client::Body>| {
            if request.method() != Method::GET {
                let line = format!("{} {}", request.method(), request.uri().path());
                recorded.lock().unwrap().push(line);
            }
            request
        });
    let client = ClientBuilder::try_from(config)
        .expect("client builder")
        .with_layer(&counting)
        .build();
    let tenants = Arc::new(Tenants::new(SecretPolicy::new(
        OPERATOR_NAMESPACE,
        Vec::<String>::new(),
    )));
    let store = Arc::new(KubeStore::new(client, tenants.clone()));
    tokio::spawn(store.clone().run());
    until("the in-process store is ready", true, || {
        let (store, home) = (store.clone(), home.clone());
        async move { store.is_ready() && store.tenants().namespace_of(&home).is_some() }
    })
    .await;
    let app = scim::router(ScimState {
        store: store.clone(),
        auth: Arc::new(StaticTokens::new([(home.clone(), TOKEN.to_owned())])),
        config: Arc::new(ServiceProviderConfig::default()),
        public_url: None,
        scim_log: None,
    });
    let post = |user_name: &str| {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/scim/v2/Users")
            .header(header::HOST, "scim.test")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/scim+json")
            .body(Body::from(user(user_name).to_string()))
            .expect("request");
        let service = tower::util::MapRequestLayer::new(normalize_path).layer(app.clone());
        async move {
            let response = service.oneshot(request).await.expect("infallible");
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };

    for user_name in ["first@example.com", "second@example.com"] {
        writes.lock().unwrap().clear();
        let (status, body) = post(user_name).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let made = writes.lock().unwrap().clone();
        eprintln!(
            "POST /Users {user_name}: {} API writes: {made:?}",
            made.len()
        );
        assert_eq!(
            made,
            [
                format!("/apis/coordination.k8s.io/v1/namespaces/{home}/leases"),
                format!("/apis/scimitar.dev/v1alpha1/namespaces/{home}/scimusers"),
            ]
            .map(|path| format!("POST {path}")),
            "a create is the anchor's claim and the ScimUser, nothing else"
        );
        let id = body["id"].as_str().expect("id");
        let lease = anchor(&admin, &home, user_name).await.expect("anchor");
        assert_eq!(
            holder(&lease),
            Some(id),
            "the anchor is held by the new user"
        );
    }

    // The same name in another case: refused by the cache before any write.
    writes.lock().unwrap().clear();
    let (status, body) = post("FIRST@example.com").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");
    assert_eq!(writes.lock().unwrap().len(), 0);
}

/// Threat: with no owner reference on the anchor, a user deleted outside
/// SCIM would keep its userName from a new user until the anchor went stale.
/// The operator's watch releases it instead, and only for a user that is
/// gone: a live user's name is still refused.
#[tokio::test]
async fn a_user_deleted_with_kubectl_frees_its_user_name_at_once() {
    let cp = ControlPlane::shared();
    let (admin, home, token) = tenant("freed").await;
    let scim = Scim::new(Operator::shared(cp), &token);
    scim.wait_until_authorized().await;
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);

    let claimed = Instant::now();
    let first = scim
        .send("POST", "/Users", Some(user("robin@example.com")))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let first_id = first.body["id"].as_str().expect("id").to_owned();
    let taken = scim
        .send("POST", "/Users", Some(user("Robin@Example.com")))
        .await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert_eq!(taken.body["scimType"], "uniqueness");

    support::kubectl::kubectl(
        &cp.kubeconfig,
        &[
            "delete",
            "scimuser",
            &first_id,
            "--namespace",
            &home,
            "--wait",
        ],
    );
    until("the deleted user's anchor is released", true, || {
        let (admin, home) = (admin.clone(), home.clone());
        async move { anchor(&admin, &home, "robin@example.com").await.is_none() }
    })
    .await;
    let again = scim
        .send("POST", "/Users", Some(user("ROBIN@example.com")))
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert!(
        claimed.elapsed() < IN_FLIGHT,
        "the name was freed within {:?} of its claim, before the anchor could count as stale",
        claimed.elapsed()
    );
    let second_id = again.body["id"].as_str().expect("id").to_owned();
    assert_ne!(second_id, first_id);
    let lease = anchor(&admin, &home, "robin@example.com")
        .await
        .expect("anchor");
    assert_eq!(holder(&lease), Some(second_id.as_str()));

    // The new user holds the name: refused, and its anchor stays, however
    // late the watch's releases for the deleted user run on any replica.
    let refused = scim
        .send("POST", "/Users", Some(user("robin@EXAMPLE.com")))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.body["scimType"], "uniqueness");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let lease = anchor(&admin, &home, "robin@example.com")
        .await
        .expect("the live user's anchor stays");
    assert_eq!(holder(&lease), Some(second_id.as_str()));
    let listed = users.list(&Default::default()).await.expect("list");
    assert_eq!(listed.items.len(), 1, "one user holds the name");
}

/// A rename claims the new name before writing it and releases the old one
/// after: the old name is free at once, the new one is taken.
#[tokio::test]
async fn a_renamed_user_frees_its_old_user_name_and_holds_the_new_one() {
    let cp = ControlPlane::shared();
    let (admin, home, token) = tenant("renamed").await;
    let scim = Scim::new(Operator::shared(cp), &token);
    scim.wait_until_authorized().await;

    let created = scim
        .send("POST", "/Users", Some(user("kim@example.com")))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let rename = json!({
        "schemas": [PATCH_OP_URN],
        "Operations": [{"op": "replace", "path": "userName", "value": "kim.lee@example.com"}]
    });
    let renamed = scim
        .send("PATCH", &format!("/Users/{id}"), Some(rename))
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);

    assert!(anchor(&admin, &home, "kim@example.com").await.is_none());
    let lease = anchor(&admin, &home, "kim.lee@example.com")
        .await
        .expect("the new name's anchor");
    assert_eq!(holder(&lease), Some(id.as_str()));
    let taken = scim
        .send("POST", "/Users", Some(user("Kim.Lee@example.com")))
        .await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert_eq!(taken.body["scimType"], "uniqueness");
    let reused = scim
        .send("POST", "/Users", Some(user("KIM@example.com")))
        .await;
    assert_eq!(reused.status, 201, "{}", reused.body);
}
