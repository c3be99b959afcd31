//! The tenant's directory ConfigMap(s). Pure: no I/O.
