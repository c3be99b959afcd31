//! SCIM API tokens: format, generation and how they are kept in Secrets.
