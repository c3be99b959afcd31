//! The Kubernetes-backed [`Store`](super::Store): SCIM Users and Groups as
//! `ScimUser` and `ScimGroup` objects in the tenant's namespace.

pub mod convert;
