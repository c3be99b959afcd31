//! SCIM JSON ↔ `ScimUser`/`ScimGroup` specs. Pure: no I/O.
